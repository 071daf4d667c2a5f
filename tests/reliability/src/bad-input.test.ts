/**
 * Hostile input, sent as raw Engine.IO websocket frames and polling bodies: every case is
 * a clear refusal (an error envelope, or the server closing that connection), the handler
 * never runs with what its schema refuses, the process lives, other clients lose nothing,
 * and `Object.prototype` / `ctx.data` are never polluted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Socket as ClientSocket } from "socket.io-client";
import { nextEvent, request, startServer, type TestServer } from "../../../packages/server/src/test-helpers.js";
import { RawPolling, RawSocket } from "./support/raw.js";
import { probeRoute, type Probe } from "./support/routes.js";

const MAX = 16_384;
const NS = "/b";
const probe: Probe = { runs: {}, violations: [] };
const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
const runs = (): number => Object.values(probe.runs).reduce((a, b) => a + b, 0);

/** What the server did with a frame: closed the connection, refused with a code, or let it through. */
async function outcome(raw: RawSocket, waitMs = 250): Promise<string> {
  const closed = raw.closed.then(() => "closed");
  const refused = raw.nextError(NS, waitMs).then(
    (e) => `refused ${e.code}`,
    () => "open",
  );
  return Promise.race([closed, refused]);
}

describe("bad input", () => {
  let srv: TestServer;
  let bystander: ClientSocket;
  let raws: RawSocket[] = [];

  const open = async (auth: unknown = { userId: "raw" }): Promise<RawSocket> => {
    const raw = await RawSocket.open(srv.url);
    raws.push(raw);
    expect(await raw.connect(NS, auth)).toMatch(/^40\/b,\{"sid"/);
    return raw;
  };

  /** The server still serves: a fresh client works and the bystander still receives broadcasts. */
  const stillServing = async (): Promise<void> => {
    const heard = nextEvent<string>(bystander, "shout", 3000);
    const fresh = await srv.connected(NS);
    expect(await request(fresh, "shout")).toEqual({ ok: true, data: "ok" });
    expect(await heard).toBe("hello");
    fresh.disconnect();
  };

  beforeAll(async () => {
    srv = await startServer(
      { [NS]: probeRoute(probe), "/rooms/[id]": probeRoute(probe) },
      { maxPayloadBytes: MAX, limits: { eventsPerSecond: 100_000, burst: 100_000 } },
    );
    bystander = await srv.connected(NS, { auth: { userId: "bystander" } });
  });
  afterEach(() => {
    for (const r of raws) r.close();
    raws = [];
    expect(probe.violations).toEqual([]);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
  });
  afterAll(async () => {
    await srv?.close();
  });

  it.each([
    ["not a packet", ["zzz"]],
    ["an empty frame", [""]],
    ["a bare message type", ["4"]],
    ["an event without a body", ["42"]],
    ["truncated JSON", ['42/b,["strict",{"text":']],
    ["a JSON object instead of the argument array", ['42/b,{"text":"x"}']],
    ["an empty argument array", ["42/b,[]"]],
    ["an unknown Socket.IO packet type", ['49/b,["strict"]']],
    ["a second CONNECT", ["40/b,"]],
    ["a CONNECT_ERROR from the client", ['44/b,{"message":"x"}']],
    ["an event for a namespace the socket did not join", ['42/other,["strict",{"text":"x"}]']],
    ["a binary frame with no binary packet announced", [Buffer.from([1, 2, 3])]],
    ["a binary packet whose attachment never comes, then text", ['451-/b,["bin",{"_placeholder":true,"num":0}]', '42/b,["raw","x"]']],
    ["a placeholder pointing past the attachments", ['451-/b,["bin",{"_placeholder":true,"num":7}]', Buffer.from([1])]],
    ["an absurd attachment count", ['459999999999-/b,["bin",{"_placeholder":true,"num":0}]']],
    ["a negative attachment count", ['45-1-/b,["bin",{"_placeholder":true,"num":0}]']],
    [
      "a deeply nested binary packet",
      [`451-/b,["bin",${'{"a":'.repeat(5000)}{"_placeholder":true,"num":0}${"}".repeat(5000)}]`, Buffer.from([1])],
    ],
  ] as Array<[string, Array<string | Buffer>]>)("malformed websocket frame: %s -> the connection is closed", async (_name, frames) => {
    const raw = await open();
    const before = runs();
    for (const f of frames) raw.send(f);
    expect(await outcome(raw)).toBe("closed");
    expect(runs()).toBe(before);
    await stillServing();
  });

  it("events before CONNECT close the connection; the handler never runs", async () => {
    const raw = await RawSocket.open(srv.url);
    raws.push(raw);
    const before = runs();
    raw.send('42/b,["raw","early"]');
    expect((await raw.closed).code).toBeGreaterThan(0);
    expect(runs()).toBe(before);
  });

  it("an unknown namespace is refused with CONNECT_ERROR; an event sent to it anyway closes the connection", async () => {
    const raw = await RawSocket.open(srv.url);
    raws.push(raw);
    expect(await raw.connect("/nope", {})).toBe('44/nope,{"message":"Invalid namespace"}');
    raw.send('42/nope,["raw","x"]');
    await raw.closed;
    expect(srv.rt.io._nsps.has("/nope")).toBe(false);
  });

  it("a refused dynamic namespace leaves nothing behind", async () => {
    const before = srv.rt.io._nsps.size;
    for (let i = 0; i < 20; i++) {
      const raw = await RawSocket.open(srv.url);
      raws.push(raw);
      await raw.connect(`/rooms/probe-${i}`, {});
      raw.close();
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(srv.rt.io._nsps.size).toBe(before);
  });

  it.each([
    ["a number", 5],
    ["a string", "text"],
    ["null", null],
    ["a boolean", true],
    ["an array", [{ text: "x" }]],
    ["a missing payload", undefined],
    ["a huge string field", { text: "x".repeat(MAX - 100) }],
    ["a wrong field type", { text: 42 }],
    ["a deeply nested value", { deep: 5000 }],
  ])("non-conforming payload (%s) -> BAD_PAYLOAD, handler not run", async (_name, payload) => {
    const raw = await open();
    const before = probe.runs.strict ?? 0;
    const ack =
      typeof payload === "object" && payload !== null && "deep" in payload
        ? raw.sendForAck(NS, `42/b,1["strict",{"text":${"[".repeat(payload.deep)}${"]".repeat(payload.deep)}}]`, 1)
        : raw.emit(NS, payload === undefined ? ["strict"] : ["strict", payload], 1);
    expect(await outcome(raw)).toBe("refused BAD_PAYLOAD");
    expect(await ack).toMatchObject({ ok: false, error: { code: "BAD_PAYLOAD" } });
    expect(probe.runs.strict ?? 0).toBe(before);
  });

  it("a numeric event name, or a prototype key, is UNKNOWN_EVENT", async () => {
    const raw = await open();
    const before = runs();
    for (const name of [1, "__proto__", "constructor", "toString", "hasOwnProperty", "__loly:error"]) {
      raw.emit(NS, [name, {}]);
      expect(await outcome(raw)).toBe("refused UNKNOWN_EVENT");
    }
    expect(runs()).toBe(before);
  });

  it.each([null, { a: 1 }, ["x"], "connect", "disconnect", "connect_error", "disconnecting", "newListener", "removeListener"])(
    "an event named %j (not a string, or reserved by Socket.IO) closes the connection",
    async (name) => {
      const raw = await open();
      const before = runs();
      raw.emit(NS, [name, {}]);
      expect(await outcome(raw)).toBe("closed");
      expect(runs()).toBe(before);
    },
  );

  it.each([
    ["__proto__ at the top", '{"text":"a","__proto__":{"polluted":true}}'],
    ["constructor.prototype", '{"text":"a","constructor":{"prototype":{"polluted":true}}}'],
    ["nested __proto__", '{"text":"a","inner":{"__proto__":{"polluted":true}}}'],
    ["__proto__ as an array", '{"text":"a","__proto__":[1,2]}'],
  ])("prototype pollution attempt (%s): nothing polluted, ctx.data plain", async (_name, json) => {
    const raw = await open();
    for (const [i, event] of ["loose", "record", "vloose", "vrecord", "raw"].entries()) {
      expect(await raw.sendForAck(NS, `42/b,${i + 1}["${event}",${json}]`, i + 1)).toMatchObject({ ok: true });
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(Object.prototype, "polluted")).toBe(false);
  });

  it("binary attachments: a Buffer reaches a Buffer schema; elsewhere it is BAD_PAYLOAD", async () => {
    const raw = await open();
    raw.send('451-/b,1["bin",{"_placeholder":true,"num":0}]');
    raw.send(Buffer.from([1, 2, 3, 4]));
    expect(await raw.next((f) => String(f).startsWith("43/b,1["))).toBe('43/b,1[{"ok":true,"data":4}]');
    const before = probe.runs.strict ?? 0;
    raw.send('451-/b,2["strict",{"_placeholder":true,"num":0}]');
    raw.send(Buffer.from([1]));
    expect(await outcome(raw)).toBe("refused BAD_PAYLOAD");
    expect(probe.runs.strict ?? 0).toBe(before);
  });

  it("a handler's answer that cannot be encoded (deep echo) is INTERNAL, the connection lives", async () => {
    const raw = await open();
    const deep = "[".repeat(7000) + "]".repeat(7000);
    expect(await raw.sendForAck(NS, `42/b,3["echo",${deep}]`, 3)).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
    expect(await raw.emit(NS, ["raw", "still here"], 4)).toEqual({ ok: true, data: 10 });
  });

  describe("payload size limit (maxPayloadBytes)", () => {
    const frameOf = (bytes: number): string => {
      const head = '42/b,["raw","';
      const tail = '"]';
      return head + "a".repeat(bytes - head.length - tail.length) + tail;
    };

    it("websocket: a frame of exactly maxPayloadBytes runs; one byte more closes the connection (1009) and never runs", async () => {
      const raw = await open();
      const exact = frameOf(MAX);
      expect(Buffer.byteLength(exact)).toBe(MAX);
      const before = probe.runs.raw ?? 0;
      raw.send(exact);
      await raw.emit(NS, ["raw", "sync"], 9);
      expect(probe.runs.raw ?? 0).toBe(before + 2);
      raw.send(frameOf(MAX + 1));
      expect((await raw.closed).code).toBe(1009);
      expect(probe.runs.raw ?? 0).toBe(before + 2);
      await stillServing();
    });

    it("polling: a body of exactly maxPayloadBytes runs; one byte more is 413 and never runs", async () => {
      const poll = await RawPolling.open(srv.url);
      expect(await poll.post('40/b,{"userId":"poller"}')).toEqual({ status: 200, text: "ok" });
      await poll.until((p) => p.startsWith("40/b,"));
      const before = probe.runs.raw ?? 0;
      expect(await poll.post(frameOf(MAX))).toEqual({ status: 200, text: "ok" });
      for (let i = 0; i < 50 && (probe.runs.raw ?? 0) === before; i++) await new Promise((r) => setTimeout(r, 20));
      expect(probe.runs.raw ?? 0).toBe(before + 1);
      expect((await poll.post(frameOf(MAX + 1))).status).toBe(413);
      // the session is closed: the oversized body was never decoded
      expect((await poll.poll()).status).toBe(400);
      expect(probe.runs.raw ?? 0).toBe(before + 1);
      await stillServing();
    });

    it("polling: a Content-Length over the limit is refused before the body is read", async () => {
      const poll = await RawPolling.open(srv.url);
      const res = await fetch(`${poll.base}&sid=${poll.sid}`, {
        method: "POST",
        headers: { "content-type": "text/plain", "content-length": String(MAX * 100) },
        body: "x".repeat(MAX * 100),
      }).catch((err: unknown) => ({ status: -1, err }));
      expect(res.status === 413 || res.status === -1).toBe(true);
      await stillServing();
    });
  });

  it.each([
    ["garbage", "zzz"],
    ["an unknown Engine.IO type", "9hello"],
    ["empty packets", "\x1e\x1e"],
    ["a truncated event", '42/b,["strict",{'],
    ["an event before CONNECT", '42/b,["raw","x"]'],
    ["a base64 binary packet with bad base64", "b$$$$"],
  ])("malformed polling body (%s): the session ends, nothing runs", async (_name, body) => {
    const poll = await RawPolling.open(srv.url);
    const before = runs();
    const res = await poll.post(body);
    expect([200, 400]).toContain(res.status);
    // the session is gone (400 Session ID unknown) or closed with a CLOSE packet
    let ended = false;
    for (let i = 0; i < 3 && !ended; i++) {
      const next = await poll.poll(3000).catch(() => ({ status: 0, text: "" }));
      ended = next.status === 400 || next.text.split("\x1e").includes("1");
    }
    expect(ended).toBe(true);
    expect(runs()).toBe(before);
    await stillServing();
  });
});
