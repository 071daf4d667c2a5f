/**
 * Short versions of the attack suite (support/attacks.ts) against a real server process: each
 * asserts what must hold and prints its figures. The full sizes run with
 * `TSX_TSCONFIG_PATH=tsconfig.json node --import tsx bench/soak/attacks.ts` (docs/reliability.md).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flood, hangingAuths, idleTcp, manyNamespaces } from "./support/attacks.js";
import { startInstance, type Proc } from "./support/procs.js";

let srv: Proc;
beforeAll(async () => {
  srv = await startInstance(
    {
      logging: { level: "error", pretty: false },
      handlerTimeoutMs: 500,
      // Default event limits (the flooder is throttled by them); every client here is 127.0.0.1.
      limits: { connectionsPerIp: 1000 },
    },
    { execArgv: ["--expose-gc"] },
  );
});
afterAll(async () => {
  await srv?.stop();
});

describe("attack suite (short)", () => {
  it.each(["websocket", "polling"] as const)(
    "a %s client flooding acked events and never reading: heap bounded, flooder closed",
    async (transport) => {
      const f = await flood(srv, transport, 4);
      console.log(`[figure] flood ${JSON.stringify(f)}`);
      expect(f.heapGrowthMB).toBeLessThan(50);
      // The bystander was answered all along (its p99 is a figure, not asserted: no wall-clock test).
      expect(f.bystanderFloodP99Ms).toBeLessThan(10_000);
      expect(f.eventsSent).toBeGreaterThan(0);
    },
    30_000,
  );

  it("2,000 namespaces asked for over one connection: 16 connect, the rest are refused, nothing piles up", async () => {
    const f = await manyNamespaces(srv, 2000);
    console.log(`[figure] namespaces ${JSON.stringify(f)}`);
    expect(f.connected).toBe(16);
    expect(f.refused.TOO_MANY_NAMESPACES).toBe(2000 - 16);
    expect(f.nspsLeft).toBe(0);
  }, 60_000);

  it("200 CONNECTs to an auth hook that never settles: all refused UNAVAILABLE, no socket or namespace left", async () => {
    const f = await hangingAuths(srv, 200);
    console.log(`[figure] hanging auths ${JSON.stringify(f)}`);
    expect(f.refused).toEqual({ UNAVAILABLE: 200 });
    expect(f.socketsLeft).toBe(0);
    expect(f.nspsLeft).toBe(0);
  }, 60_000);

  it("100 idle TCP connections are closed by the server within the head timeout", async () => {
    const f = await idleTcp(srv, 100);
    console.log(`[figure] idle tcp ${JSON.stringify(f)}`);
    expect(f.opened).toBe(100);
    expect(f.stillOpen).toBe(0);
  }, 30_000);
});
