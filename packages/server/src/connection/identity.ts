import type { Socket } from "socket.io";

/** What assigning `socket.data.user` throws: identity comes from the auth hook only. */
function readOnly(): never {
  throw new TypeError("socket.data.user is read-only: a socket's identity comes from the route's auth hook");
}

/** Defines the read-only `user` on a data object (replacing a plain one a tool copied there). */
function fix(data: object, user: unknown): void {
  const own = Object.getOwnPropertyDescriptor(data, "user");
  if (own?.configurable === false) return;
  if (own) delete (data as { user?: unknown }).user;
  Object.defineProperty(data, "user", { get: () => user, set: readOnly, enumerable: user !== null, configurable: false });
}

/**
 * Fixes a socket's identity on `socket.data.user` (identity only from the auth hook): a
 * read-only `user` (assigning it throws a `TypeError`) on `socket.data`, and on any object that
 * replaces `socket.data` later. Tools that rebuild `socket.data` at connection time
 * (`@socket.io/admin-ui`'s development mode proxies it and copies every enumerable key into
 * the new object) may do so: the new object gets the same read-only `user` once their
 * listener returned (a microtask later, before any event of the socket is handled). An
 * anonymous socket's `user` (`null`) is not enumerable: such tools do not copy it, and
 * serialized data (`fetchSockets`) has no `user`.
 */
export function fixIdentity(socket: Socket, user: unknown): void {
  let data: Record<string, unknown> = socket.data ?? {};
  fix(data, user);
  Object.defineProperty(socket, "data", {
    get: () => data,
    set: (next: unknown) => {
      if (typeof next !== "object" || next === null) return;
      data = next as Record<string, unknown>;
      queueMicrotask(() => fix(next, user));
    },
    enumerable: true,
    configurable: false,
  });
}
