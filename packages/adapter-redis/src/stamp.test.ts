import { describe, expect, it } from "vitest";
import type { Freshness, RedisAdapterDropReason } from "./freshness.js";
import { stampingParser, type Parser } from "./stamp.js";

const STALE_AFTER = 500;
/** A stand-in for msgpack: the stamping does not depend on the bytes. */
const json: Parser = {
  encode: (msg) => Buffer.from(JSON.stringify(msg)),
  decode: (buf: Buffer) => JSON.parse(buf.toString()),
};

/** One instance's parser (adapter `uid`) reading the clock `at()`, with the drops it counted. */
function instance(uid: string, at: () => number | undefined): { parser: Parser; drops: RedisAdapterDropReason[] } {
  const drops: RedisAdapterDropReason[] = [];
  const fresh = {
    clock: { now: at },
    staleAfterMs: STALE_AFTER,
    dropped: (r: RedisAdapterDropReason) => drops.push(r),
  } as unknown as Freshness;
  return { parser: stampingParser(json, uid, fresh), drops };
}

describe("stampingParser", () => {
  it("dates broadcasts and broadcasts with acks on Redis's clock, and no other request", () => {
    const { parser } = instance("a", () => 1000.5);
    expect(json.decode(parser.encode(["a", { type: 2 }, { rooms: ["r"] }]))).toEqual(["a", { type: 2 }, { rooms: ["r"] }, 1000.5]);
    expect(json.decode(parser.encode({ uid: "a", type: 7, requestId: "x" }))).toEqual({
      uid: "a",
      type: 7,
      requestId: "x",
      sentAt: 1000.5,
    });
    expect(json.decode(parser.encode({ uid: "a", type: 6, data: ["disconnectUser"] }))).toEqual({
      uid: "a",
      type: 6,
      data: ["disconnectUser"],
    });
  });

  it("sends the stock format before a first clock sample", () => {
    const { parser } = instance("a", () => undefined);
    expect(json.decode(parser.encode(["a", {}, {}]))).toEqual(["a", {}, {}]);
  });

  it("delivers up to staleAfterMs and drops (counted once, by the receiver) what arrives older", () => {
    let now = 10_000;
    const a = instance("a", () => now);
    const b = instance("b", () => now);
    const fresh = a.parser.encode(["a", { data: 1 }, {}]);
    const withAck = a.parser.encode({ uid: "a", type: 7, requestId: "x" });
    now += STALE_AFTER;
    expect(b.parser.decode(fresh)).toEqual(["a", { data: 1 }, {}, 10_000]);
    now += 1;
    const stale = b.parser.decode(fresh) as unknown[];
    expect(stale[1]).toBeUndefined(); // the adapter ignores a broadcast without a packet
    expect((b.parser.decode(withAck) as { type?: number }).type).toBeUndefined(); // and a request of no known type
    expect(b.drops).toEqual(["stale", "stale"]);
    // The sender's own adapter reads its message too (and never delivers it): not a drop.
    a.parser.decode(fresh);
    expect(a.drops).toEqual([]);
  });

  it("delivers undated messages (a stock adapter's), and everything before its own first clock sample", () => {
    const b = instance("b", () => 1e12);
    expect(b.parser.decode(json.encode(["old", { data: 1 }, {}]))).toEqual(["old", { data: 1 }, {}]);
    const unsynced = instance("c", () => undefined);
    expect(unsynced.parser.decode(json.encode(["a", { data: 1 }, {}, 1]))).toEqual(["a", { data: 1 }, {}, 1]);
    expect([...b.drops, ...unsynced.drops]).toEqual([]);
  });
});
