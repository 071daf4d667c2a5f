/**
 * A seeded random fuzzer over Engine.IO / Socket.IO frames and payloads, bounded in count
 * and time. The seed is printed; replay a run with `LOLY_FUZZ_SEED=<seed>`.
 *
 * Invariants after every run: the process lives and serves, no handler ran with a payload
 * its schema refuses, nothing is polluted, and the pipeline never failed without answering.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nextEvent, request, startServer, type TestServer } from "../../../packages/server/src/test-helpers.js";
import { RawPolling, RawSocket } from "./support/raw.js";
import { probeRoute, type Probe } from "./support/routes.js";

const SEED = Number(process.env.LOLY_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const FRAMES = Number(process.env.LOLY_FUZZ_FRAMES ?? 6000);
const POLL_BODIES = 150;
const TIME_BUDGET_MS = 6000;
const MAX = 8192;

/** mulberry32: small, fast, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  string(): string {
    switch (this.int(6)) {
      case 0:
        return "";
      case 1:
        return this.pick(["__proto__", "constructor", "prototype", "toString", "polluted", "text", "_placeholder", "num"]);
      case 2:
        return "x".repeat(this.int(MAX));
      case 3:
        return String.fromCharCode(...Array.from({ length: this.int(12) }, () => this.int(0xffff)));
      case 4:
        return '\ud800\u0000\u001e"\\';
      default:
        return String(this.int(1e9));
    }
  }
  value(depth = 0): unknown {
    const kinds = depth > 5 ? 5 : 8;
    switch (this.int(kinds)) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick([0, -0, 1, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, this.int(1000)]);
      case 3:
      case 4:
        return this.string();
      case 5:
        return this.int(3) === 0 ? [] : {};
      case 6:
        return Array.from({ length: this.int(5) }, () => this.value(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = this.int(5); i > 0; i--) {
          Object.defineProperty(o, this.string().slice(0, 20), {
            value: this.value(depth + 1),
            enumerable: true,
            configurable: true,
            writable: true,
          });
        }
        return o;
      }
    }
  }
  json(value: unknown): string {
    try {
      return JSON.stringify(value) ?? "null";
    } catch {
      return "null";
    }
  }
  /** A plausible Socket.IO frame (sometimes not). */
  frame(): string {
    const events = ["strict", "loose", "record", "vloose", "vrecord", "nums", "bin", "raw", "echo", "shout", "nope", "__proto__"];
    const type = this.chance(0.9) ? "4" : this.pick(["0", "1", "2", "3", "5", "6", "9", ""]);
    const sio = this.chance(0.8) ? "2" : this.pick(["0", "1", "3", "4", "5", "6", "7", "x"]);
    const attachments = sio === "5" || this.chance(0.05) ? `${this.pick([0, 1, 2, -1, 999999999])}-` : "";
    const nsp = this.chance(0.85) ? "/b," : this.pick(["", "/", "/other,", "/rooms/fz,", "/b", `/${this.string().slice(0, 10)},`]);
    const ack = this.chance(0.5) ? String(this.pick([0, 1, this.int(1e6), 1e21])) : "";
    const args = [this.chance(0.9) ? this.pick(events) : this.value(3), ...Array.from({ length: this.int(3) }, () => this.value())];
    let body = this.chance(0.9) ? this.json(args) : this.json(this.value());
    if (this.chance(0.1)) body = body.replace(/"x+"/, '{"_placeholder":true,"num":0}');
    return `${type}${sio}${attachments}${nsp}${ack}${body}`;
  }
  /** Byte-level damage: flips, cuts, inserts, duplicates. */
  mutate(frame: string): string | Buffer {
    const bytes = Buffer.from(frame);
    let out: Buffer = bytes;
    for (let k = 1 + this.int(3); k > 0; k--) {
      const at = this.int(out.length + 1);
      switch (this.int(4)) {
        case 0:
          if (out.length > 0) out[Math.min(at, out.length - 1)] = this.int(256);
          break;
        case 1:
          out = Buffer.concat([out.subarray(0, at), out.subarray(at + this.int(8))]);
          break;
        case 2:
          out = Buffer.concat([
            out.subarray(0, at),
            Buffer.from(Array.from({ length: 1 + this.int(6) }, () => this.int(256))),
            out.subarray(at),
          ]);
          break;
        default:
          out = Buffer.concat([out, out.subarray(at, at + this.int(16))]);
      }
    }
    return this.chance(0.7) ? out.toString("latin1") : out;
  }
}

describe(`fuzzer (seed ${SEED})`, () => {
  const probe: Probe = { runs: {}, violations: [] };
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
  let srv: TestServer;

  beforeAll(async () => {
    console.log(`[fuzz] seed ${SEED} (replay with LOLY_FUZZ_SEED=${SEED})`);
    srv = await startServer(
      { "/b": probeRoute(probe), "/rooms/[id]": probeRoute(probe) },
      { maxPayloadBytes: MAX, limits: { eventsPerSecond: 1e6, burst: 1e6, connectionsPerIp: 1000 }, logging: { level: "info" } },
    );
  });
  afterAll(async () => {
    await srv?.close();
  });

  it("random websocket frames: the server lives, answers and runs nothing invalid", async () => {
    const g = new Gen(rng(SEED));
    const started = Date.now();
    const stats = { sent: 0, reconnects: 0, binary: 0 };
    let raw: RawSocket | undefined;
    const sockets: RawSocket[] = [];
    try {
      while (stats.sent < FRAMES && Date.now() - started < TIME_BUDGET_MS) {
        if (!raw?.isOpen) {
          raw = await RawSocket.open(srv.url);
          sockets.push(raw);
          stats.reconnects++;
          // a CONNECT, now and then with random auth (the server may refuse it or close the connection)
          const nsp = g.chance(0.9) ? "/b" : `/rooms/${g.int(5)}`;
          const auth = g.chance(0.95) ? { userId: `u${g.int(20)}` } : g.value();
          const answered = raw.next((f) => typeof f === "string" && /^4[04]/.test(f), 2000);
          raw.send(`40${nsp},${g.json(auth)}`);
          await Promise.race([answered, raw.closed]).catch(() => undefined);
          answered.catch(() => undefined);
          continue;
        }
        const r = g.int(100);
        if (r < 75) {
          // well-formed frame, random event and payload: exercises the pipeline and the schemas
          const events = ["strict", "loose", "record", "vloose", "vrecord", "nums", "bin", "raw", "echo", "shout", "nope"];
          raw.send(`42/b,${g.chance(0.6) ? g.int(1000) : ""}${g.json([g.pick(events), g.value()])}`);
        } else if (r < 85) raw.send(g.frame());
        else if (r < 95) raw.send(g.mutate(g.frame()));
        else {
          raw.send(Buffer.from(Array.from({ length: 1 + g.int(64) }, () => g.int(256))));
          stats.binary++;
        }
        stats.sent++;
        // let the server breathe now and then (and detect closes)
        await new Promise((res) => setImmediate(res));
      }
    } finally {
      for (const s of sockets) s.close();
    }
    const envelopes: Record<string, number> = {};
    for (const s of sockets) {
      for (const f of s.frames) {
        const m = /"__loly:error",\{"code":"([A-Z_]+)"/.exec(String(f));
        if (m) envelopes[m[1] as string] = (envelopes[m[1] as string] ?? 0) + 1;
      }
    }
    console.log(
      `[fuzz] ${stats.sent} frames (${stats.binary} random binary) over ${stats.reconnects} connections in ${Date.now() - started} ms; ` +
        `handler runs ${JSON.stringify(probe.runs)}; refusals ${JSON.stringify(envelopes)}`,
    );
    expect(stats.sent).toBeGreaterThan(100);
    await checkInvariants();
  });

  it("random polling bodies: the server lives and runs nothing invalid", async () => {
    const g = new Gen(rng(SEED ^ 0x5bd1e995));
    const statuses: Record<number, number> = {};
    let poll: RawPolling | undefined;
    for (let i = 0; i < POLL_BODIES; i++) {
      if (!poll || g.chance(0.2)) {
        poll = await RawPolling.open(srv.url);
        if (g.chance(0.7)) await poll.post('40/b,{"userId":"fuzz"}');
      }
      const frames = Array.from({ length: 1 + g.int(3) }, () => (g.chance(0.6) ? g.frame() : g.mutate(g.frame()).toString()));
      const body = g.chance(0.9) ? frames.join("\x1e") : Buffer.from(Array.from({ length: g.int(200) }, () => g.int(256)));
      const { status } = await poll.post(body, typeof body === "string" ? "text/plain;charset=UTF-8" : "application/octet-stream");
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status !== 200) poll = undefined;
    }
    console.log(`[fuzz] ${POLL_BODIES} polling bodies: HTTP statuses ${JSON.stringify(statuses)}`);
    await checkInvariants();
  });

  async function checkInvariants(): Promise<void> {
    expect(probe.violations).toEqual([]);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const unanswered = srv.logs.filter((l) => String(l.msg).startsWith("event pipeline failed"));
    expect(unanswered.map((l) => l.err)).toEqual([]);
    const a = await srv.connected("/b");
    const b = await srv.connected("/b");
    const heard = nextEvent<string>(b, "shout");
    expect(await request(a, "strict", { text: "still fine" })).toEqual({ ok: true, data: "ok" });
    expect(await request(a, "shout")).toEqual({ ok: true, data: "ok" });
    expect(await heard).toBe("hello");
    a.disconnect();
    b.disconnect();
  }
});
