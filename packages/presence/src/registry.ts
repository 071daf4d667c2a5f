import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { LolyError } from "@loly-rt/core";
import {
  createOutageReporter,
  DEFAULT_KEY_PREFIX,
  luaScript,
  runScript,
  type LuaScript,
  type OutageReporter,
  type RedisArg,
  type RedisClientLike,
  type RunScriptOptions,
} from "@loly-rt/core/redis";
import { CLOSE, HEARTBEAT, REAP, REBUILD, RENEW, SWEEP } from "./instance-scripts.js";
import { CLUSTER_GROUPS, groupOf } from "./groups.js";
import { cursorOf, elementOf } from "./lua.js";
import type { ChangeList } from "./model.js";
import { planRebuild, splitWrites } from "./rebuild.js";
import { WRITE } from "./scripts.js";

/** Where a background Redis failure happened: the periodic heartbeat (incl. re-assert) or `close()`. */
export type RedisPresenceErrorStage = "heartbeat" | "close";

/** Receives background Redis failures (they never become unhandled rejections). */
export type RedisPresenceErrorHandler = (err: unknown, stage: RedisPresenceErrorStage) => void;

const heartbeatScript = luaScript(HEARTBEAT);
const renewScript = luaScript(RENEW);
const rebuildScript = luaScript(REBUILD);
const sweepScript = luaScript(SWEEP);
const reapScript = luaScript(REAP);
const writeScript = luaScript(WRITE);
const closeScript = luaScript(CLOSE);

/**
 * Receives what a stopped instance left, as this instance dropped it: `[suffix, userId, ...]`,
 * the users no live instance has in those room hashes any more (each reported once, to the
 * instance that dropped it).
 */
export type ReapListener = (pairs: string[]) => void;

/** The `suffix, user` pairs of a script reply from index `from` on. */
function pairsOf(reply: unknown, from: number): string[] {
  if (!Array.isArray(reply) || reply.length <= from) return [];
  return reply.slice(from).map(String);
}

/** The signed triple numbers of a WRITE reply (see `WRITE`), `[]` for anything else. */
function transitionsOf(reply: unknown): number[] {
  return Array.isArray(reply) ? reply.map(Number) : [];
}

/** Whether the client is an ioredis `Cluster` (Redis Cluster). */
export function isCluster(redis: RedisClientLike): boolean {
  return (redis as { isCluster?: unknown }).isCluster === true;
}

/** The same script, called with one key in front (what routes it on Redis Cluster). */
const routedScripts = new WeakMap<LuaScript, LuaScript>();
function routed(s: LuaScript): LuaScript {
  let r = routedScripts.get(s);
  if (r === undefined) {
    r = { ...s, numKeys: 1 };
    routedScripts.set(s, r);
  }
  return r;
}

/** A default instance id: readable in `redis-cli`, unique across hosts, processes and restarts. */
export function defaultInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
}

/** Throws `INVALID_CONFIG` naming every bad option of a Redis presence or counter. */
function validateCommon(what: string, prefix: string, ttlMs: number, instanceId: string): void {
  const problems: string[] = [];
  if (typeof prefix !== "string") problems.push(`prefix must be a string (got ${typeof prefix})`);
  if (!Number.isFinite(ttlMs) || ttlMs < 30) problems.push(`ttlMs must be a finite number >= 30 (got ${String(ttlMs)})`);
  if (typeof instanceId !== "string" || instanceId === "") problems.push("instanceId must be a non-empty string");
  if (problems.length > 0) throw new LolyError("INVALID_CONFIG", `${what}: ${problems.join("; ")}`);
}

/**
 * The `keyPrefix` option of an ioredis client, or "". ioredis adds it to the keys it knows a
 * command has; the scripts here name their keys from arguments, so they add it themselves and
 * every key of the app stays under the client's prefix.
 */
function clientKeyPrefix(redis: RedisClientLike): string {
  const keyPrefix: unknown = redis.options?.keyPrefix;
  return typeof keyPrefix === "string" ? keyPrefix : "";
}

/** The options both Redis-backed factories take (each documents them on its own options type). */
export interface InstanceOptions {
  redis: RedisClientLike;
  prefix?: string;
  ttlMs?: number;
  instanceId?: string;
  onError?: RedisPresenceErrorHandler;
}

/**
 * An instance's registries under one segment (`presence` or `conn`): one on a single Redis (or
 * a primary behind Sentinel); on Redis Cluster, {@link CLUSTER_GROUPS} of them, one per hash
 * tag (`{<prefix><segment>:<g>}:`), since a script touches one slot only and the scripts read
 * across instances: a namespace (presence) or an IP (counts) lives in the group
 * {@link groupOf} gives it, and the groups spread over the cluster's slots.
 */
export interface Registries {
  readonly id: string;
  readonly ttl: string;
  readonly closed: boolean;
  /** The registry `key` (a namespace, an IP) is kept in. */
  of(key: string): InstanceRegistry;
  /** Sets where every registry's reaped users go (see {@link InstanceRegistry.onReaped}). */
  setOnReaped(listener: ReapListener | undefined): void;
  /** Closes every registry. Idempotent; never rejects. */
  close(): Promise<void>;
}

/**
 * The registries of a Redis-backed factory (`what` names it in errors): applies the defaults
 * (prefix {@link DEFAULT_KEY_PREFIX}, ttlMs 15000, a generated instance id), checks them, and roots the keys at
 * `<the client's keyPrefix><prefix><segment>:` (on Redis Cluster, one root per group, each a
 * hash tag). `snapshot` appends the hash writes that rebuild this instance's data from nothing,
 * only those of keys `keep` accepts when it is given (a group's share).
 */
export function openRegistries(
  what: string,
  options: InstanceOptions,
  segment: "presence" | "conn",
  kind: string,
  snapshot: (out: ChangeList, keep?: (key: string) => boolean) => ChangeList,
): Registries {
  const prefix = options.prefix ?? DEFAULT_KEY_PREFIX;
  const ttlMs = options.ttlMs ?? 15_000;
  const instanceId = options.instanceId ?? defaultInstanceId();
  validateCommon(what, prefix, ttlMs, instanceId);
  if (!options.redis || typeof options.redis.evalsha !== "function") {
    throw new TypeError(`${what}: \`redis\` must be an ioredis client`);
  }
  const open = (root: string, snap: (out: ChangeList) => ChangeList): InstanceRegistry =>
    new InstanceRegistry({
      redis: options.redis,
      root: `${clientKeyPrefix(options.redis)}${root}`,
      instanceId,
      ttlMs,
      kind,
      snapshot: snap,
      onError: options.onError,
    });
  let all: InstanceRegistry[];
  let of: (key: string) => InstanceRegistry;
  if (isCluster(options.redis)) {
    all = [];
    for (let g = 0; g < CLUSTER_GROUPS; g++) {
      const keep = (key: string): boolean => groupOf(key) === g;
      all.push(open(`{${prefix}${segment}:${g}}:`, (out) => snapshot(out, keep)));
    }
    const groups = all;
    of = (key) => groups[groupOf(key)] as InstanceRegistry;
  } else {
    const one = open(`${prefix}${segment}:`, (out) => snapshot(out));
    all = [one];
    of = () => one;
  }
  const first = all[0] as InstanceRegistry;
  let closing: Promise<void> | undefined;
  return {
    id: instanceId,
    ttl: first.ttl,
    of,
    get closed() {
      return first.closed;
    },
    setOnReaped(listener) {
      for (const r of all) r.onReaped = listener;
    },
    close() {
      closing ??= Promise.all(all.map((r) => r.close())).then(() => undefined);
      return closing;
    },
  };
}

/** What an {@link InstanceRegistry} needs: where to write, for how long, and how to rebuild. */
export interface RegistryOptions {
  redis: RedisClientLike;
  /** `<prefix>presence:` or `<prefix>conn:` (on Redis Cluster, a group's hash tag: `{<prefix>presence:<g>}:`). */
  root: string;
  instanceId: string;
  ttlMs: number;
  kind: string;
  /** Appends every hash write that rebuilds this instance's data from nothing. */
  snapshot: (out: ChangeList) => ChangeList;
  onError: RedisPresenceErrorHandler | undefined;
}

/**
 * One instance's registration under a root: a heartbeat every `ttlMs / 3` (unref'd) that
 * renews the instance's deadline and keys, and re-asserts everything from the local mirror
 * (`snapshot`) when Redis lost it or when a write may not have landed.
 */
export class InstanceRegistry {
  readonly redis: RedisClientLike;
  readonly root: string;
  /** On Redis Cluster: the key each script is routed by. */
  private readonly routing: string | undefined;
  readonly base: string;
  readonly id: string;
  readonly ttl: string;
  /** Redis may differ from the mirror: the next heartbeat rewrites everything. */
  dirty = true;
  /** Incremented each time a re-assert is sent (lets relative writes detect a race with it). */
  generation = 0;
  closed = false;
  /**
   * Where the users that left rooms with a stopped instance go, when this instance dropped it.
   * Set: a stopped instance's users are dropped right after its deadline, not at the next
   * heartbeat (a timer set from the deadlines the heartbeat reads).
   */
  onReaped: ReapListener | undefined = undefined;

  private readonly marker: string;
  private readonly interval: number;
  private reapTimer: NodeJS.Timeout | undefined = undefined;
  private reaping = false;
  private readonly snapshot: (out: ChangeList) => ChangeList;
  private readonly outage: OutageReporter<RedisPresenceErrorStage>;
  private readonly timer: NodeJS.Timeout;
  private beating = false;
  private closing: Promise<void> | undefined;
  private readonly onReady = (): void => void this.beat();
  /** A write sent as EVAL may land out of order with the others: the next heartbeat re-asserts. */
  private readonly dirtyOnFallback: RunScriptOptions<unknown> = {
    onFallback: () => {
      this.dirty = true;
    },
  };

  constructor(options: RegistryOptions) {
    this.redis = options.redis;
    this.root = options.root;
    // Redis Cluster routes a script by its first key: one under the root (the scripts take ARGV only).
    if (isCluster(options.redis)) this.routing = `${options.root.slice(clientKeyPrefix(options.redis).length)}instances`;
    this.id = options.instanceId;
    this.base = `${options.root}i:${options.instanceId}`;
    this.ttl = String(Math.ceil(options.ttlMs));
    this.snapshot = options.snapshot;
    this.outage = outageReporter(options.onError, this.base);
    this.marker = JSON.stringify({ kind: options.kind, host: hostname(), pid: process.pid, since: Date.now() });
    this.interval = Math.max(10, Math.floor(options.ttlMs / 3));
    this.timer = setInterval(this.onReady, this.interval);
    this.timer.unref();
    // A reconnect is the earliest moment to find out whether Redis lost this instance's keys.
    this.redis.on("ready", this.onReady);
    void this.beat();
  }

  /** Runs a read-only script. */
  run(s: LuaScript, args: RedisArg[]): Promise<unknown> {
    return this.routing === undefined ? runScript(this.redis, s, args) : runScript(this.redis, routed(s), [this.routing, ...args]);
  }

  /**
   * Runs a script that changes this instance's data. When it had to fall back to EVAL it may
   * have landed out of order with the other writes: the next heartbeat re-asserts.
   */
  mutate(s: LuaScript, args: RedisArg[]): Promise<unknown> {
    return this.routing === undefined
      ? runScript(this.redis, s, args, this.dirtyOnFallback)
      : runScript(this.redis, routed(s), [this.routing, ...args], this.dirtyOnFallback);
  }

  /**
   * Applies hash writes in one round trip (several script calls sent at once when they are
   * many, as when a socket in many rooms leaves); a failure leaves Redis to be re-asserted.
   * Resolves with the room transitions the writes made cluster-wide: `n` (1-based index of a
   * `[suffix, field, value]` triple of `changes`) for a user's first entry in a room on any
   * live instance, `-n` for their last one gone (see `WRITE`).
   */
  write(changes: ChangeList): Promise<number[]> {
    const parts = splitWrites(changes);
    const sent: Promise<number[]> =
      parts.length === 1
        ? this.mutate(writeScript, [this.root, this.id, this.ttl, ...changes]).then(transitionsOf)
        : Promise.all(parts.map((part) => this.mutate(writeScript, [this.root, this.id, this.ttl, ...part]))).then((replies) => {
            // Each part numbers its own triples: shift them to the whole list's.
            const all: number[] = [];
            let offset = 0;
            replies.forEach((reply, i) => {
              for (const n of transitionsOf(reply)) all.push(n > 0 ? n + offset : n - offset);
              offset += (parts[i] as ChangeList).length / 3;
            });
            return all;
          });
    return sent.catch((err: unknown) => {
      this.dirty = true;
      throw err;
    });
  }

  /** Hands the users a reaper call reported to the listener (one that throws must not break the heartbeat). */
  private reaped(pairs: string[]): void {
    if (pairs.length === 0 || this.onReaped === undefined) return;
    try {
      this.onReaped(pairs);
    } catch (err) {
      this.outage.fail(err, "heartbeat");
    }
  }

  /**
   * After a reaper call: drops the rest of what stopped instances left (`more`), and, when
   * another instance's deadline comes before the next heartbeat, drops it right then
   * (only with a listener: without one, nobody waits for it).
   */
  private async afterReap(more: boolean, soonestMs: number): Promise<void> {
    while (more && !this.closed) {
      const reply = await this.run(reapScript, [this.root, this.id]);
      more = Number(elementOf(reply, 0)) === 1;
      soonestMs = Number(elementOf(reply, 1));
      this.reaped(pairsOf(reply, 2));
    }
    if (this.onReaped === undefined || this.closed || !(soonestMs >= 0) || soonestMs >= this.interval) return;
    clearTimeout(this.reapTimer);
    this.reapTimer = setTimeout(() => void this.reapNow(), soonestMs + 2);
    this.reapTimer.unref();
  }

  /** A reaper call at another instance's deadline. Never rejects (the next heartbeat tries again). */
  private async reapNow(): Promise<void> {
    this.reapTimer = undefined;
    if (this.closed || this.reaping) return;
    this.reaping = true;
    try {
      const reply = await this.run(reapScript, [this.root, this.id]);
      this.reaped(pairsOf(reply, 2));
      await this.afterReap(Number(elementOf(reply, 0)) === 1, Number(elementOf(reply, 1)));
    } catch {
      // Redis did not answer: the heartbeat reports outages and drops it next time.
    } finally {
      this.reaping = false;
    }
  }

  /** Renews this instance, or re-asserts it from the mirror when needed. Never rejects. */
  async beat(): Promise<void> {
    if (this.beating || this.closed) return;
    this.beating = true;
    try {
      const renewed = !this.dirty && (await this.renew());
      if (!renewed && !this.closed) await this.reassert();
      this.outage.ok();
    } catch (err) {
      this.dirty = true;
      this.outage.fail(err, "heartbeat");
    } finally {
      this.beating = false;
    }
  }

  /**
   * Renews the deadline, the marker and every data key, one page of keys per call. False when
   * Redis lost any of them: the caller re-asserts.
   */
  private async renew(): Promise<boolean> {
    let reply = await this.run(heartbeatScript, [this.root, this.id, this.ttl]);
    this.reaped(pairsOf(reply, 5));
    await this.afterReap(Number(elementOf(reply, 3)) === 1, Number(elementOf(reply, 4)));
    if (Number(elementOf(reply, 0)) !== 1) return false;
    let lost = Number(elementOf(reply, 2));
    let cursor = cursorOf(elementOf(reply, 1));
    while (cursor !== "0" && !this.closed) {
      reply = await this.run(renewScript, [this.base, this.ttl, cursor]);
      lost += Number(elementOf(reply, 2));
      cursor = cursorOf(elementOf(reply, 1));
    }
    return lost === 0;
  }

  /**
   * Rewrites everything from the mirror: the calls of one snapshot go out at once, so no write
   * of this instance lands between them; then what the previous data left behind is swept.
   */
  private async reassert(): Promise<void> {
    this.dirty = false;
    this.generation++;
    const calls = planRebuild(this.snapshot([]));
    const last = calls.length - 1;
    const replies = await Promise.all(
      calls.map((groups, i) =>
        this.mutate(rebuildScript, [
          this.root,
          this.id,
          this.ttl,
          i === 0 ? this.marker : "",
          i === 0 ? "1" : "0",
          i === last ? "1" : "0",
          ...groups,
        ]),
      ),
    );
    // An earlier re-assert's leftovers were still there: this one kept the keys set, so once
    // they are swept the next heartbeat re-asserts again.
    if (Number(elementOf(replies[0], 0)) !== 1) this.dirty = true;
    this.reaped(pairsOf(replies[0], 3));
    await this.afterReap(Number(elementOf(replies[0], 2)) === 1, -1);
    let cursor = cursorOf(elementOf(replies[last], 1));
    while (cursor !== "0" && !this.closed) cursor = cursorOf(await this.mutate(sweepScript, [this.base, cursor]));
  }

  /** Stops the heartbeat and removes this instance's keys at once. Idempotent; never rejects. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      clearInterval(this.timer);
      clearTimeout(this.reapTimer);
      this.redis.off("ready", this.onReady);
      this.closing = this.removeAll().catch((err: unknown) => this.outage.fail(err, "close"));
    }
    return this.closing;
  }

  /** Unregisters this instance, then deletes its keys a page per call. */
  private async removeAll(): Promise<void> {
    for (const set of ["keys", "old"]) {
      let cursor = "0";
      do cursor = cursorOf(await this.run(closeScript, [this.root, this.id, set, cursor]));
      while (cursor !== "0");
    }
  }
}

/**
 * Every failure to `onError` when given (one that throws must not break the heartbeat), else a
 * process warning once per outage rather than once per heartbeat.
 */
function outageReporter(onError: RedisPresenceErrorHandler | undefined, base: string): OutageReporter<RedisPresenceErrorStage> {
  if (onError) return createOutageReporter({ onFirst: onError, onRepeat: onError });
  return createOutageReporter<RedisPresenceErrorStage>({
    onFirst: (err, stage) => {
      const message = err instanceof Error ? err.message : String(err);
      process.emitWarning(`@loly-rt/presence ${stage} failed for ${base}: ${message}`, "LolyPresenceWarning");
    },
  });
}
