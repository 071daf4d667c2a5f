import { luaScript, runScript } from "@loly-rt/core/redis";
import type { Redis } from "ioredis";
import type { Parser } from "../stamp.js";
import { compareStreamIds, parseStreamId } from "./offsets.js";

/**
 * Appends a broadcast to its namespace's stream and publishes it, in one step, so that the
 * order of the log is the order in which every instance receives the broadcasts. The entry
 * keeps the payload as published; the message published carries the entry's id in front of it
 * (`\x01<id>\n<payload>`). The stream keeps `windowMs` (XTRIM MINID, by Redis's clock) and
 * about `maxEvents` entries, and goes away after `windowMs` without a broadcast.
 *
 * KEYS[1] the stream; ARGV: channel, payload, maxEvents, windowMs.
 */
const LOG_AND_PUBLISH = luaScript(
  `local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'p', ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('XTRIM', KEYS[1], 'MINID', '~', tostring(now - tonumber(ARGV[4])))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[1], '\\1' .. id .. '\\n' .. ARGV[2])
return id`,
  1,
);

/** A broadcast as the log gives it back: its offset, whom it was for, and its arguments (the offset last). */
export interface LoggedBroadcast {
  readonly offset: string;
  readonly rooms: readonly string[];
  readonly except: readonly string[];
  readonly data: unknown[];
}

/** The position of a namespace whose stream was empty when looked at: resumes from the start, if nothing was trimmed since. */
export const STREAM_START = "0-0";

/**
 * The cluster's recovery log (SPEC 10): one Redis stream per namespace under `root`, written by
 * {@link RedisRecoveryLog.publish} together with the broadcast's publish, read back from an
 * offset on recovery. Also tracks, per namespace, the last offset this instance received (what
 * a new socket is given to resume from).
 */
export class RedisRecoveryLog {
  private readonly positions = new Map<string, string>();

  constructor(
    private readonly redis: Redis,
    private readonly root: string,
    private readonly windowMs: number,
    private readonly maxEvents: number,
  ) {}

  /** The adapter's own parser (without dates or offsets): decodes an entry's payload. Set by the first adapter. */
  parser: Parser | undefined;

  /** The stream of a namespace. */
  key(nsp: string): string {
    return `${this.root}${nsp}`;
  }

  /** Logs and publishes one broadcast; resolves its offset. */
  publish(nsp: string, channel: string, payload: Buffer): Promise<string> {
    return runScript<string>(this.redis, LOG_AND_PUBLISH, [this.key(nsp), channel, payload, this.maxEvents, this.windowMs], {
      parse: (reply) => String(reply),
    });
  }

  /** This instance received the broadcast at `offset` (in log order): a new socket resumes from there. */
  received(nsp: string, offset: string): void {
    this.positions.set(nsp, offset);
  }

  /** Where a new socket of `nsp` resumes from; `undefined` until known (see {@link learn}). */
  position(nsp: string): string | undefined {
    return this.positions.get(nsp);
  }

  /** Reads a namespace's last offset from Redis when this instance has not received one yet. */
  async learn(nsp: string): Promise<void> {
    if (this.positions.has(nsp)) return;
    const last = (await this.redis.xrevrange(this.key(nsp), "+", "-", "COUNT", 1)) as Array<[string, string[]]>;
    if (!this.positions.has(nsp)) this.positions.set(nsp, last[0]?.[0] ?? STREAM_START);
  }

  /**
   * Whether the log still reaches back to `offset`: nothing after it was trimmed. A stream that
   * no longer exists had no broadcast for a whole window: nothing was missed.
   */
  async reaches(nsp: string, offset: string): Promise<boolean> {
    const from = parseStreamId(offset);
    if (from === null) return false;
    let info: unknown[];
    try {
      info = (await this.redis.call("XINFO", "STREAM", this.key(nsp))) as unknown[];
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return true;
      throw err;
    }
    // Redis 7: entries up to max-deleted-entry-id were trimmed (the client must have had them all).
    const maxDeleted = parseStreamId(fieldOf(info, "max-deleted-entry-id"));
    if (maxDeleted !== null) return maxDeleted[0] === 0 && maxDeleted[1] === 0 ? true : compareStreamIds(maxDeleted, from) <= 0;
    // Redis 6.2 does not say what was trimmed: an offset before the first entry is not resumed (a fresh connection, never a gap).
    const first = fieldOf(info, "first-entry");
    const firstId = Array.isArray(first) ? parseStreamId(String(first[0])) : null;
    return firstId === null || compareStreamIds(firstId, from) <= 0 || compareStreamIds(from, [0, 0]) === 0;
  }

  /**
   * The broadcasts after `offset`, oldest first, or `null` when the log no longer reaches back
   * to it (entries after it were trimmed) or the offset is not one.
   */
  async after(nsp: string, offset: string): Promise<LoggedBroadcast[] | null> {
    const from = parseStreamId(offset);
    const parser = this.parser;
    if (from === null || parser === undefined || !(await this.reaches(nsp, offset))) return null;
    // The stream holds about maxEvents (MAXLEN ~): read it all after the offset.
    const entries = (await this.redis.xrangeBuffer(this.key(nsp), `(${from[0]}-${from[1]}`, "+")) as Array<[Buffer, Buffer[]]>;
    const out: LoggedBroadcast[] = [];
    for (const [idBuf, fields] of entries) {
      const id = idBuf.toString();
      let decoded: unknown;
      try {
        decoded = parser.decode(fields[1]);
      } catch {
        continue;
      }
      const [, packet, opts] = (Array.isArray(decoded) ? decoded : []) as [
        unknown,
        { data?: unknown[] } | undefined,
        { rooms?: string[]; except?: string[] } | undefined,
      ];
      if (!packet || !Array.isArray(packet.data)) continue;
      out.push({ offset: id, rooms: opts?.rooms ?? [], except: opts?.except ?? [], data: [...packet.data, id] });
    }
    return out;
  }
}

/** A field of a flat `[name, value, name, value...]` reply. */
function fieldOf(reply: unknown[], name: string): unknown {
  for (let i = 0; i + 1 < reply.length; i += 2) if (String(reply[i]) === name) return reply[i + 1];
  return undefined;
}
