import { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import type { LolyLogger } from "@loly-rt/core";
import { describe, expect, it } from "vitest";
import { Outages } from "../backends/outages.js";
import { resolveConfig } from "../config/resolve.js";
import { engineEventHook, type EngineConn } from "./engine.js";
import { Sessions } from "./sessions.js";

/** An Engine.IO connection as the server sees it: a real emitter with a request and a state. */
class Conn extends EventEmitter {
  readyState = "open";
  readonly request = { headers: {}, socket: { remoteAddress: "10.1.2.3" } } as unknown as IncomingMessage;
  close(): void {
    this.shut();
  }
  /** Engine.IO's close: the state first, then the event (what the hooked `emit` sees). */
  shut(): void {
    if (this.readyState === "closed") return;
    this.readyState = "closed";
    this.emit("close", "transport close");
  }
}

/** A counter whose `acquire` answers when the test says. */
function slowCounter() {
  const released: string[] = [];
  const answers: Array<(ok: boolean) => void> = [];
  return {
    released,
    answer: (ok: boolean) => answers.shift()?.(ok),
    acquire: (_ip: string, _limit: number) => new Promise<boolean>((resolve) => answers.push(resolve)),
    release: (ip: string) => {
      released.push(ip);
    },
    close: async () => {},
  };
}

const quiet = { warn() {}, info() {}, debug() {}, error() {} } as unknown as LolyLogger;

/** A Sessions with a slow counter, whose connections are hooked as the server hooks them. */
function sessionsWithSlowCounter() {
  const counter = slowCounter();
  const { config } = resolveConfig({ limits: { connectionsPerIp: 5 } }, {});
  const sessions = new Sessions(config, counter, new Outages(quiet));
  const hook = engineEventHook(
    () => undefined,
    (conn) => sessions.closed(conn as unknown as EngineConn),
  );
  const open = (): Conn => {
    const conn = new Conn();
    sessions.open(conn as unknown as EngineConn);
    hook(conn as never);
    return conn;
  };
  const decision = (conn: Conn) => sessions.get(conn as unknown as EngineConn)?.ipDecision;
  return { counter, open, decision };
}

describe("sessions", () => {
  it("an admitted session is released once when it closes", async () => {
    const { counter, open, decision } = sessionsWithSlowCounter();
    const conn = open();
    counter.answer(true);
    expect(await decision(conn)).toBe("admitted");
    // The decision is kept, not the promise that brought it.
    expect(decision(conn)).toBe("admitted");
    conn.shut();
    conn.emit("close", "again");
    expect(counter.released).toEqual(["10.1.2.3"]);
  });

  it("a session that closed while its count was answering is released when it answers", async () => {
    const { counter, open, decision } = sessionsWithSlowCounter();
    const conn = open();
    conn.shut();
    expect(counter.released).toEqual([]);
    counter.answer(true);
    expect(await decision(conn)).toBe("admitted");
    expect(counter.released).toEqual(["10.1.2.3"]);
  });

  it("a refused session is not released", async () => {
    const { counter, open, decision } = sessionsWithSlowCounter();
    const conn = open();
    counter.answer(false);
    expect(await decision(conn)).toBe("TOO_MANY_CONNECTIONS");
    conn.shut();
    expect(counter.released).toEqual([]);
  });
});

describe("engineEventHook", () => {
  it("sees packetCreate and close, and every listener still gets every event with all its arguments", () => {
    const seen: string[] = [];
    const hook = engineEventHook(
      (_conn, packet) => seen.push(`packet ${String(packet.data)}`),
      () => seen.push("close"),
    );
    const conn = new EventEmitter();
    hook(conn as never);
    conn.on("packetCreate", (p: { data: string }) => seen.push(`listener packet ${p.data}`));
    conn.on("close", (reason: string, description: string) => seen.push(`listener close ${reason} ${description}`));
    conn.on("data", (a: number, b: number, c: number) => seen.push(`data ${a + b + c}`));
    conn.emit("packetCreate", { data: "x" });
    conn.emit("data", 1, 2, 3);
    expect(conn.emit("close", "transport close", "gone")).toBe(true);
    expect(conn.emit("nobody")).toBe(false);
    expect(seen).toEqual(["packet x", "listener packet x", "data 6", "close", "listener close transport close gone"]);
    // An unhandled error still throws, as it would without the hook.
    expect(() => conn.emit("error", new Error("boom"))).toThrow("boom");
  });

  it("a connection whose emit someone else replaced gets listeners instead", () => {
    const seen: string[] = [];
    const hook = engineEventHook(
      () => seen.push("packet"),
      () => seen.push("close"),
    );
    hook(new EventEmitter() as never);
    const patched = new EventEmitter();
    const own = patched.emit.bind(patched);
    patched.emit = (event: string | symbol, ...args: unknown[]) => own(event, ...args);
    hook(patched as never);
    patched.emit("packetCreate", { data: "y" });
    patched.emit("close");
    expect(seen).toEqual(["packet", "close"]);
  });
});
