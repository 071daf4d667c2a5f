import type { RecoveringRedisAdapter, RedisRecoveryLog, RedisRecoverySessions } from "@loly-rt/adapter-redis";
import type { Socket } from "socket.io";
import type { RecoveryStore } from "./store.js";

/** The adapter of a socket's namespace, in cluster mode with recovery. */
function adapterOf(socket: Socket): RecoveringRedisAdapter {
  return socket.nsp.adapter as unknown as RecoveringRedisAdapter;
}

/**
 * The cluster's store: the log and sessions `@loly-rt/adapter-redis` keeps in Redis. A new
 * socket gets a private session id named after this instance; every connected socket's session
 * is kept while it lives; a recovered socket catches up through its namespace's adapter.
 */
export function clusterStore(log: RedisRecoveryLog, sessions: RedisRecoverySessions): RecoveryStore {
  return {
    position: (nsp) => log.position(nsp),
    after: (nsp, offset) => log.after(nsp, offset),
    newPid: () => sessions.newPid(),
    hold: (socket) => adapterOf(socket).hold(socket.id),
    release: (socket, caughtUpTo) => adapterOf(socket).release(socket.id, caughtUpTo),
    // The session keeps `socket.data` without `user` (the auth hook sets it again): the adapter's `describe` hook.
    track: (socket) => adapterOf(socket).track(socket.id, (socket as unknown as { pid: string }).pid),
    // Redis expires what the window let go.
    sweep: () => undefined,
  };
}
