import type { PresenceBackend, PresenceEntry, PresenceExpiry } from "@loly-rt/core";
import { luaScript, type RedisClientLike } from "@loly-rt/core/redis";
import { parseRoomSuffix, PresenceModel, roomSuffix, usersSuffix, type ChangeList } from "./model.js";
import { cursorOf } from "./lua.js";
import { openRegistries, type InstanceRegistry, type RedisPresenceErrorHandler } from "./registry.js";
import { ONLINE, SOCKETS, USERS, USERS_PAGE } from "./scripts.js";

/** Options of {@link createRedisPresence}. */
export interface RedisPresenceOptions {
  /**
   * An ioredis client, or any client of that shape (yours: presence never closes it). Bound its
   * commands (`commandTimeout`, `maxRetriesPerRequest`) or wrap calls in a timeout: presence
   * calls reject when Redis does.
   */
  redis: RedisClientLike;
  /**
   * The cluster's name: keys live under `${prefix}presence:` (after the client's ioredis
   * `keyPrefix`, if it has one). Instances with the same Redis and prefix see each other.
   * On Redis Cluster (an ioredis `Cluster` client) they are split into 16 groups by namespace,
   * each a hash tag of its own: `{${prefix}presence:<g>}:`.
   * @default "loly:"
   */
  prefix?: string;
  /**
   * An instance that stops without `close()` (even SIGKILL) leaves every answer within this
   * time. The heartbeat runs every `ttlMs / 3`.
   * @default 15000
   */
  ttlMs?: number;
  /**
   * This instance's id in key names. Reusing the id of a previous run of the same instance
   * replaces that run's entries at start.
   * @default `${hostname}:${pid}:${random}`
   */
  instanceId?: string;
  /**
   * Background failures (heartbeat, re-assert, close). Called at most once per heartbeat.
   * @default a process warning once per outage
   */
  onError?: RedisPresenceErrorHandler;
}

/** A Redis presence backend and the id under which this instance writes. */
export interface RedisPresence extends PresenceBackend {
  readonly instanceId: string;
  /** Always there on the Redis backend (see {@link PresenceBackend.onExpired}). */
  onExpired(listener: (expired: PresenceExpiry[]) => void): () => void;
}

const usersScript = luaScript(USERS);
const usersPageScript = luaScript(USERS_PAGE);
const socketsScript = luaScript(SOCKETS);
const onlineScript = luaScript(ONLINE);
const done: Promise<void> = Promise.resolve();
const no: Promise<boolean> = Promise.resolve(false);

/**
 * Cluster-wide, crash-safe presence in Redis.
 *
 * Each instance writes only its own keys, all expiring, and renews them with a heartbeat;
 * readers union the instances whose heartbeat deadline (Redis `TIME` + `ttlMs`) has not
 * passed, so a SIGKILLed instance leaves every answer within `ttlMs`. Every write and read
 * is one round trip (one EVALSHA). The instance keeps a local mirror of its sockets: a
 * write that fails still updates the mirror, and the next heartbeat after Redis answers
 * again (or reconnects) rewrites this instance's entries from it, as it also does when
 * they expired or Redis lost them. Writes reject when Redis does; bound them with a timeout.
 *
 * Room transitions are decided in the write scripts: `join` resolves `true` when no live
 * instance had the user in the room, `leave`/`remove` report the rooms no live instance has
 * them in any more, and the heartbeat that drops a stopped instance (right after its
 * deadline, `ttlMs` after its last heartbeat) reports its users that no live instance has in
 * those rooms to `onExpired`: once cluster-wide, on the instance that dropped them. Counting
 * round trips, that is no command more: the answer comes from the write's own reply. Data
 * keys live `2 * ttlMs` after their last renewal (readers still ignore an instance past its
 * deadline), so that the survivor can read who was there when it drops them.
 *
 * No script call grows with what an instance holds (Redis runs one at a time): the heartbeat
 * renews a page of keys per call, a re-assert sends its bounded calls in one go, a socket
 * leaving many rooms sends several writes at once, and `users()` of more than 512 entries
 * in all reads them a page per call (then not at one point in time: each user present
 * throughout is listed, once).
 *
 * @example
 * const presence = createRedisPresence({ redis: new Redis(url), prefix: "loly:" });
 * await presence.add({ namespace: "/chat", socketId: socket.id, userId: "u1" });
 * await presence.users("/chat"); // users on every instance
 */
export function createRedisPresence(options: RedisPresenceOptions): RedisPresence {
  const model = new PresenceModel();
  // Every change list holds one namespace's writes: they go to that namespace's registry.
  const registries = openRegistries("createRedisPresence", options, "presence", "presence", (out, keep) => model.snapshot(out, keep));
  const instanceId = registries.id;
  const write = (namespace: string, out: ChangeList): Promise<void> =>
    out.length === 0
      ? done
      : registries
          .of(namespace)
          .write(out)
          .then(() => undefined);
  /** A join's or leave's single room write: whether it was the user's first (`sign` 1) or last (-1) entry in the room cluster-wide. */
  const transition = (namespace: string, out: ChangeList, sign: 1 | -1): Promise<boolean> =>
    out.length === 0
      ? no
      : registries
          .of(namespace)
          .write(out)
          .then((made) => made.some((n) => Math.sign(n) === sign));
  const expiryListeners = new Set<(expired: PresenceExpiry[]) => void>();
  const onReaped = (pairs: string[]): void => {
    const expired: PresenceExpiry[] = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const where = parseRoomSuffix(pairs[i] as string);
      if (where !== null) expired.push({ namespace: where.namespace, room: where.room, userId: pairs[i + 1] as string });
    }
    if (expired.length === 0) return;
    for (const listener of expiryListeners) listener(expired);
  };
  /** The union of `suffix`'s fields on `instances`, a page per call. */
  const readPages = async (registry: InstanceRegistry, instances: string[], suffix: string): Promise<string[]> => {
    const seen = new Set<string>();
    for (const instance of instances) {
      let cursor = "0";
      do {
        const page = await registry.run(usersPageScript, [registry.root, instance, suffix, cursor]);
        if (!Array.isArray(page)) break;
        cursor = cursorOf(page[0]);
        for (let i = 1; i < page.length; i++) seen.add(String(page[i]));
      } while (cursor !== "0");
    }
    return [...seen];
  };

  return {
    instanceId,
    add(entry: PresenceEntry): Promise<void> {
      if (registries.closed) return done;
      const out: ChangeList = [];
      model.add(entry, out);
      return write(entry.namespace, out);
    },
    remove(namespace: string, socketId: string): Promise<string[]> {
      if (registries.closed) return Promise.resolve([]);
      const out: ChangeList = [];
      model.remove(namespace, socketId, out);
      if (out.length === 0) return Promise.resolve([]);
      return registries
        .of(namespace)
        .write(out)
        .then((made) => {
          const rooms: string[] = [];
          for (const n of made) {
            if (n >= 0) continue;
            const where = parseRoomSuffix(out[(-n - 1) * 3] as string);
            if (where !== null) rooms.push(where.room);
          }
          return rooms;
        });
    },
    join(namespace: string, socketId: string, room: string): Promise<boolean> {
      if (registries.closed) return no;
      const out: ChangeList = [];
      model.join(namespace, socketId, room, out);
      return transition(namespace, out, 1);
    },
    leave(namespace: string, socketId: string, room: string): Promise<boolean> {
      if (registries.closed) return no;
      const out: ChangeList = [];
      model.leave(namespace, socketId, room, out);
      return transition(namespace, out, -1);
    },
    onExpired(listener: (expired: PresenceExpiry[]) => void): () => void {
      expiryListeners.add(listener);
      registries.setOnReaped(onReaped);
      return () => {
        expiryListeners.delete(listener);
        if (expiryListeners.size === 0) registries.setOnReaped(undefined);
      };
    },
    users(namespace: string, room?: string): Promise<string[]> {
      const suffix = room === undefined ? usersSuffix(namespace) : roomSuffix(namespace, room);
      const registry = registries.of(namespace);
      return registry.run(usersScript, [registry.root, suffix]).then((reply) => {
        const list = reply as unknown[];
        return Array.isArray(list[0]) ? readPages(registry, list[0] as string[], suffix) : (list as string[]);
      });
    },
    socketsOf(namespace: string, userId: string): Promise<string[]> {
      const registry = registries.of(namespace);
      return registry.run(socketsScript, [registry.root, usersSuffix(namespace), userId]).then((lists) => {
        const parts = lists as string[];
        if (parts.length === 0) return [];
        if (parts.length === 1) return JSON.parse(parts[0] as string) as string[];
        const all: string[] = [];
        for (const part of parts) for (const id of JSON.parse(part) as string[]) all.push(id);
        return all;
      });
    },
    isOnline(namespace: string, userId: string): Promise<boolean> {
      const registry = registries.of(namespace);
      return registry.run(onlineScript, [registry.root, usersSuffix(namespace), userId]).then((found) => Number(found) === 1);
    },
    close(): Promise<void> {
      const closing = registries.close();
      model.clear();
      return closing;
    },
  };
}
