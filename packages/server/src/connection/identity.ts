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
 * read-only `user` (assigning it throws a `TypeError`) on `socket.data`. Called during
 * admission, before the `connection` event. Tools that rebuild `socket.data` in their
 * `connection` listener (`@socket.io/admin-ui`'s development mode proxies it and copies every
 * enumerable key into the new object) get the same read-only `user` on the new object once the
 * listeners ran (the next turn of the event loop, before any event of the socket is handled:
 * the client sends none before it has the connect answer). An object the application assigns
 * to `socket.data` later is its own: Loly's pipeline takes identity from the auth hook's answer,
 * never from `socket.data`. An anonymous socket's `user` (`null`) is not enumerable: such tools
 * do not copy it, and serialized data (`fetchSockets`) has no `user`.
 *
 * No accessor on the socket itself: one per socket would turn every Socket.IO socket into a
 * slow dictionary-mode object and cost about 1.8 KB per connection (measured, bench scenario 4).
 */
export function fixIdentity(socket: Socket, user: unknown): void {
  const data: Record<string, unknown> = socket.data ?? {};
  if (socket.data !== data) socket.data = data;
  fix(data, user);
  setImmediate(() => {
    const now: unknown = socket.data;
    if (now !== data && typeof now === "object" && now !== null) fix(now, user);
  });
}
