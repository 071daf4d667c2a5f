import { LolyError } from "@loly-rt/core";
import type { JsonValue, LockRelease, RealtimeStateStore, StoreSetOptions } from "@loly-rt/core";
import { ExpiryHeap } from "./heap.js";

/** Options of {@link createMemoryStateStore}. */
export interface MemoryStateStoreOptions {
  /**
   * Upper bound on the number of keys. When full, writing a new key evicts the least
   * recently used one (every read and write counts as a use). Locks do not count.
   * @default undefined (unbounded)
   */
  maxKeys?: number;
  /**
   * How often one unref'd timer reclaims the memory of expired keys and locks. Expired keys
   * are never returned in between: every access checks the deadline first.
   * @default 10000
   */
  sweepIntervalMs?: number;
}

/** The in-process {@link RealtimeStateStore}: one Node.js process, no infrastructure. */
export interface MemoryStateStore extends RealtimeStateStore {
  /** Stops the sweep timer and drops every key and lock. Later calls reject with `UNAVAILABLE`. Idempotent. */
  close(): Promise<void>;
  /**
   * Keys held in memory (plain values, lists and sets; locks excluded). Expired keys count
   * until an access or the next sweep reclaims them.
   */
  readonly size: number;
}

/** An object or array value, kept as its JSON text so nobody can hold a reference into the store. */
class JsonText {
  constructor(readonly text: string) {}
}

type Stored = string | number | boolean | null | JsonText;

const VALUE = 0;
const LIST = 1;
const SET = 2;
const KIND_NAMES = ["a plain value", "a list", "a set"] as const;

interface Entry {
  kind: typeof VALUE | typeof LIST | typeof SET;
  /** VALUE: the value; LIST: items oldest first (the head is the end); SET: the members. */
  data: Stored | Stored[] | Set<string>;
  key: string;
  /** Deadline in `performance.now()` time; `Infinity` when the key has no TTL. */
  at: number;
  hi: number;
}

interface LockEntry {
  key: string;
  at: number;
  hi: number;
}

const DEFAULT_SWEEP_INTERVAL_MS = 10_000;
const now = (): number => performance.now();

function encode(value: JsonValue, op: string, key: string): Stored {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      // JSON has no NaN/Infinity (they read back as null) and no -0 (reads back as 0).
      return Number.isFinite(value) ? value + 0 : null;
    case "object": {
      if (value === null) return null;
      return new JsonText(JSON.stringify(value));
    }
    default:
      throw new TypeError(`state-memory: ${op}("${key}") got a ${typeof value}; values must be JSON`);
  }
}

function decode(stored: Stored): JsonValue {
  return stored instanceof JsonText ? (JSON.parse(stored.text) as JsonValue) : stored;
}

function checkTtl(ttlMs: number, op: string, key: string): void {
  if (!(typeof ttlMs === "number" && ttlMs > 0 && ttlMs !== Infinity)) {
    throw new RangeError(`state-memory: ${op}("${key}") got ttlMs ${String(ttlMs)}; the ttl must be a positive number of milliseconds`);
  }
}

function checkInteger(by: number, op: string, key: string): void {
  if (!Number.isSafeInteger(by)) {
    throw new TypeError(`state-memory: ${op}("${key}") got by = ${String(by)}; it must be an integer`);
  }
}

/**
 * Creates an in-process state store: JSON values copied in and out, TTLs, atomic counters,
 * lists, sets and locks, with an optional LRU bound. Expired keys are never returned (each
 * access checks the deadline) and their memory is reclaimed by one unref'd sweep over an
 * expiry heap, never a timer per key. Use it for one instance; a cluster needs
 * `@loly-rt/state-redis`.
 *
 * @example
 * const store = createMemoryStateStore({ maxKeys: 100_000 });
 * await store.set("session:42", { user: "ada" }, { ttlMs: 60_000 });
 * await store.incr("visits");
 */
export function createMemoryStateStore(options: MemoryStateStoreOptions = {}): MemoryStateStore {
  const { maxKeys, sweepIntervalMs = DEFAULT_SWEEP_INTERVAL_MS } = options;
  if (maxKeys !== undefined && !(Number.isInteger(maxKeys) && maxKeys > 0)) {
    throw new RangeError(`createMemoryStateStore: maxKeys must be a positive integer, got ${String(maxKeys)}`);
  }
  if (!(typeof sweepIntervalMs === "number" && sweepIntervalMs > 0 && Number.isFinite(sweepIntervalMs))) {
    throw new RangeError(
      `createMemoryStateStore: sweepIntervalMs must be a positive number of milliseconds, got ${String(sweepIntervalMs)}`,
    );
  }

  const lru = maxKeys !== undefined;
  const entries = new Map<string, Entry>();
  const expiries = new ExpiryHeap<Entry>();
  const locks = new Map<string, LockEntry>();
  const lockExpiries = new ExpiryHeap<LockEntry>();
  let closed = false;

  const sweep = (): void => {
    const t = now();
    for (let e = expiries.peek(); e !== undefined && e.at <= t; e = expiries.peek()) {
      expiries.pop();
      entries.delete(e.key);
    }
    for (let l = lockExpiries.peek(); l !== undefined && l.at <= t; l = lockExpiries.peek()) {
      lockExpiries.pop();
      locks.delete(l.key);
    }
  };
  let timer: ReturnType<typeof setInterval> | undefined = setInterval(sweep, sweepIntervalMs);
  timer.unref?.();

  const ensureOpen = (op: string): void => {
    if (closed) throw new LolyError("UNAVAILABLE", `state-memory: ${op}() called after close()`);
  };

  const drop = (entry: Entry): void => {
    entries.delete(entry.key);
    if (entry.hi >= 0) expiries.remove(entry);
  };

  /** The live entry under `key` (expired ones are dropped on the way), marked as used. */
  const read = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.at !== Infinity && entry.at <= now()) {
      drop(entry);
      return undefined;
    }
    if (lru) {
      entries.delete(key);
      entries.set(key, entry);
    }
    return entry;
  };

  /** Stores a new entry under its key, replacing any entry and evicting the LRU key when full. */
  const write = (entry: Entry): void => {
    const old = entries.get(entry.key);
    if (old !== undefined) {
      drop(old);
    } else if (maxKeys !== undefined && entries.size >= maxKeys) {
      // Make room from expired keys first, then from the least recently used one.
      sweep();
      if (entries.size >= maxKeys) {
        const oldest = entries.values().next().value;
        if (oldest !== undefined) drop(oldest);
      }
    }
    entries.set(entry.key, entry);
    if (entry.at !== Infinity) expiries.push(entry);
  };

  const wrongType = (op: string, key: string, entry: Entry, wanted: number): Error =>
    new TypeError(
      `state-memory: ${op}("${key}") failed: WRONGTYPE the key holds ${KIND_NAMES[entry.kind]}, not ${KIND_NAMES[wanted as 0 | 1 | 2]}. Use another key or del() it first.`,
    );

  /** The live entry of `kind` under `key`, undefined when missing; throws on another kind. */
  const readKind = (op: string, key: string, kind: Entry["kind"]): Entry | undefined => {
    const entry = read(key);
    if (entry !== undefined && entry.kind !== kind) throw wrongType(op, key, entry, kind);
    return entry;
  };

  const add = (op: string, key: string, by: number): number => {
    ensureOpen(op);
    checkInteger(by, op, key);
    const entry = readKind(op, key, VALUE);
    if (entry === undefined) {
      write({ kind: VALUE, data: by + 0, key, at: Infinity, hi: -1 });
      return by + 0;
    }
    const current = entry.data;
    if (typeof current !== "number" || !Number.isSafeInteger(current)) {
      throw new TypeError(`state-memory: ${op}("${key}") failed: the value is not an integer`);
    }
    const next = current + by;
    if (!Number.isSafeInteger(next)) {
      throw new RangeError(`state-memory: ${op}("${key}") failed: the result would leave the safe integer range`);
    }
    // Mutated in place: the entry keeps its deadline.
    entry.data = next + 0;
    return entry.data;
  };

  return {
    get size(): number {
      return entries.size;
    },

    async get<T extends JsonValue = JsonValue>(key: string): Promise<T | null> {
      ensureOpen("get");
      const entry = readKind("get", key, VALUE);
      return entry === undefined ? null : (decode(entry.data as Stored) as T);
    },

    async set(key: string, value: JsonValue, setOptions?: StoreSetOptions): Promise<void> {
      ensureOpen("set");
      const ttlMs = setOptions?.ttlMs;
      if (ttlMs !== undefined) checkTtl(ttlMs, "set", key);
      const data = encode(value, "set", key);
      write({ kind: VALUE, data, key, at: ttlMs === undefined ? Infinity : now() + ttlMs, hi: -1 });
    },

    async del(key: string): Promise<boolean> {
      ensureOpen("del");
      const entry = read(key);
      if (entry === undefined) return false;
      drop(entry);
      return true;
    },

    async incr(key: string, by = 1): Promise<number> {
      return add("incr", key, by);
    },

    async decr(key: string, by = 1): Promise<number> {
      ensureOpen("decr");
      checkInteger(by, "decr", key);
      return add("decr", key, -by);
    },

    async listPush(key: string, value: JsonValue): Promise<number> {
      ensureOpen("listPush");
      const item = encode(value, "listPush", key);
      const entry = readKind("listPush", key, LIST);
      if (entry === undefined) {
        write({ kind: LIST, data: [item], key, at: Infinity, hi: -1 });
        return 1;
      }
      // Items are kept oldest first so a prepend is an O(1) push.
      return (entry.data as Stored[]).push(item);
    },

    async listRange<T extends JsonValue = JsonValue>(key: string, start: number, stop: number): Promise<T[]> {
      ensureOpen("listRange");
      if (!Number.isInteger(start) || !Number.isInteger(stop)) {
        throw new TypeError(`state-memory: listRange("${key}") needs integer indexes, got ${start}, ${stop}`);
      }
      const entry = readKind("listRange", key, LIST);
      if (entry === undefined) return [];
      const items = entry.data as Stored[];
      const len = items.length;
      let from = start < 0 ? len + start : start;
      let to = stop < 0 ? len + stop : stop;
      if (from < 0) from = 0;
      if (to >= len) to = len - 1;
      if (from > to) return [];
      const out = new Array<T>(to - from + 1);
      for (let i = from; i <= to; i++) out[i - from] = decode(items[len - 1 - i]!) as T;
      return out;
    },

    async setAdd(key: string, member: string): Promise<boolean> {
      ensureOpen("setAdd");
      if (typeof member !== "string") throw new TypeError(`state-memory: setAdd("${key}") needs a string member`);
      const entry = readKind("setAdd", key, SET);
      if (entry === undefined) {
        write({ kind: SET, data: new Set([member]), key, at: Infinity, hi: -1 });
        return true;
      }
      const members = entry.data as Set<string>;
      if (members.has(member)) return false;
      members.add(member);
      return true;
    },

    async setRem(key: string, member: string): Promise<boolean> {
      ensureOpen("setRem");
      const entry = readKind("setRem", key, SET);
      if (entry === undefined) return false;
      const members = entry.data as Set<string>;
      if (!members.delete(member)) return false;
      // Like Redis, an empty set is no key at all.
      if (members.size === 0) drop(entry);
      return true;
    },

    async setMembers(key: string): Promise<string[]> {
      ensureOpen("setMembers");
      const entry = readKind("setMembers", key, SET);
      return entry === undefined ? [] : Array.from(entry.data as Set<string>);
    },

    async lock(key: string, ttlMs: number): Promise<LockRelease | null> {
      ensureOpen("lock");
      checkTtl(ttlMs, "lock", key);
      const t = now();
      const held = locks.get(key);
      if (held !== undefined) {
        if (held.at > t) return null;
        lockExpiries.remove(held);
      }
      // The entry object itself is the token: a release only frees the lock it created.
      const entry: LockEntry = { key, at: t + ttlMs, hi: -1 };
      locks.set(key, entry);
      lockExpiries.push(entry);
      return async (): Promise<boolean> => {
        if (locks.get(key) !== entry) return false;
        locks.delete(key);
        lockExpiries.remove(entry);
        return entry.at > now();
      };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      entries.clear();
      expiries.clear();
      locks.clear();
      lockExpiries.clear();
    },
  };
}
