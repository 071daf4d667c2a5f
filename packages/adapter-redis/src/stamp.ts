import type { Freshness } from "./freshness.js";

/** What `@socket.io/redis-adapter` turns its messages into bytes and back with (its `parser`). */
export interface Parser {
  encode(msg: unknown): unknown;
  decode(msg: unknown): unknown;
}

/** The fields of an adapter request this parser reads. */
interface Request {
  uid?: unknown;
  type?: unknown;
  sentAt?: unknown;
}

/** `RequestType.BROADCAST` of `@socket.io/redis-adapter` 8: a broadcast that waits for acks, sent as a request. */
const BROADCAST_REQUEST = 7;

/** What a stale message decodes to: the adapter ignores a broadcast without a packet, and a request of no known type. */
const STALE_BROADCAST: readonly unknown[] = Object.freeze([]);
const STALE_REQUEST: Readonly<Record<string, never>> = Object.freeze({});

/**
 * The adapter's parser, with broadcasts dated on Redis's clock: a broadcast (`[uid, packet,
 * opts]`) gets its send time as a fourth element, a broadcast with acks (a request) a `sentAt`
 * field; on arrival, one older than `staleAfterMs` decodes to something the adapter ignores
 * and is counted, unless this adapter sent it (it never delivers its own). Stock adapters read
 * the first three elements and ignore `sentAt`, and undated messages (theirs, or sent before a
 * clock sample) are delivered as before.
 */
export function stampingParser(inner: Parser, uid: string, fresh: Freshness): Parser {
  return {
    encode(msg: unknown): unknown {
      const now = fresh.clock.now();
      if (now !== undefined) {
        if (Array.isArray(msg)) msg.push(now);
        else if ((msg as Request | null)?.type === BROADCAST_REQUEST) (msg as Request).sentAt = now;
      }
      return inner.encode(msg);
    },
    decode(buf: unknown): unknown {
      const msg = inner.decode(buf);
      const broadcast = Array.isArray(msg) ? (msg as unknown[]) : undefined;
      const request = broadcast ? undefined : (msg as Request | null);
      const sentAt = broadcast ? broadcast[3] : request?.type === BROADCAST_REQUEST ? request.sentAt : undefined;
      if (typeof sentAt !== "number") return msg;
      const now = fresh.clock.now();
      if (now === undefined || now - sentAt <= fresh.staleAfterMs) return msg;
      if ((broadcast ? broadcast[0] : request?.uid) !== uid) fresh.dropped("stale");
      return broadcast ? STALE_BROADCAST : STALE_REQUEST;
    },
  };
}
