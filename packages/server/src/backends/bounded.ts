import { LolyError, thrownMessage, type RealtimeStateStore } from "@loly-rt/core";
import { withTimeout } from "@loly-rt/core/internal";

/** What a client reads in production when a backend is unavailable. */
export const GENERIC_UNAVAILABLE = "Service temporarily unavailable, try again";

/** The message of any thrown value (core's `thrownMessage`: never throws). */
export const errorMessage: (err: unknown) => string = thrownMessage;

/**
 * Bounds a backend call by `ms` (core's `withTimeout`) and turns every failure into
 * `UNAVAILABLE` (`mapAll`), or keeps the store's own errors and only hides the text of
 * `UNAVAILABLE` ones in production. The cause stays on the error for the logs. `ms <= 0` or
 * `Infinity` means no bound.
 */
export function bounded<T>(promise: Promise<T>, ms: number, what: string, production: boolean, mapAll = true): Promise<T> {
  return withTimeout(promise, ms, what).catch((err: unknown) => {
    throw unavailable(err, what, production, mapAll);
  });
}

function unavailable(err: unknown, what: string, production: boolean, mapAll: boolean): unknown {
  if (LolyError.is(err)) {
    if (err.code !== "UNAVAILABLE" || !production) return err;
    return new LolyError("UNAVAILABLE", GENERIC_UNAVAILABLE, undefined, { cause: err });
  }
  if (!mapAll) return err;
  return new LolyError("UNAVAILABLE", production ? GENERIC_UNAVAILABLE : `${what} failed: ${errorMessage(err)}`, undefined, { cause: err });
}

/** The presence/backend call bound of `SharedServices.bounded`: any failure is the backend's (UNAVAILABLE). */
export function boundedCalls(ms: number, production: boolean): <T>(promise: Promise<T>, what: string) => Promise<T> {
  return (promise, what) => bounded(promise, ms, what, production);
}

/**
 * Wraps a store so no call waits longer than `ms` (UNAVAILABLE after). The store's own
 * errors pass through, except that in production an `UNAVAILABLE` one reads generic.
 */
export function boundedStore(store: RealtimeStateStore, ms: number, production = false): RealtimeStateStore {
  const b = <T>(p: Promise<T>, op: string): Promise<T> => bounded(p, ms, `state.${op}`, production, false);
  return {
    get: (k) => b(store.get(k), "get"),
    set: (k, v, o) => b(store.set(k, v, o), "set"),
    del: (k) => b(store.del(k), "del"),
    incr: (k, by) => b(store.incr(k, by), "incr"),
    decr: (k, by) => b(store.decr(k, by), "decr"),
    listPush: (k, v) => b(store.listPush(k, v), "listPush"),
    listRange: (k, s, e) => b(store.listRange(k, s, e), "listRange"),
    setAdd: (k, m) => b(store.setAdd(k, m), "setAdd"),
    setRem: (k, m) => b(store.setRem(k, m), "setRem"),
    setMembers: (k) => b(store.setMembers(k), "setMembers"),
    lock: (k, ttl) => b(store.lock(k, ttl), "lock"),
    close: () => store.close?.() ?? Promise.resolve(),
  } as RealtimeStateStore;
}
