import type { Socket } from "socket.io";

/** Where a data object keeps its user: a private key, read by the shared getter below. */
const USER = Symbol("loly.user");

/** What assigning `socket.data.user` throws: identity comes from the auth hook only. */
function readOnly(): never {
  throw new TypeError("socket.data.user is read-only: a socket's identity comes from the route's auth hook");
}

/** The getter of every socket's `data.user`: one function for all, so data objects share their shape. */
function getUser(this: { [USER]?: unknown }): unknown {
  return this[USER] ?? null;
}

/** The read-only `user` of a signed-in socket's data (enumerable: tools copy it, `fetchSockets` serializes it). */
const SIGNED_IN: PropertyDescriptor = { get: getUser, set: readOnly, enumerable: true, configurable: false };
/** An anonymous socket's (`null`, not enumerable: such tools do not copy it, serialized data has no `user`). */
const ANONYMOUS: PropertyDescriptor = { get: getUser, set: readOnly, enumerable: false, configurable: false };

/** Defines the read-only `user` on a data object (replacing a plain one a tool copied there). */
function fix(data: object, user: unknown): void {
  const own = Object.getOwnPropertyDescriptor(data, "user");
  if (own?.configurable === false) return;
  if (own) delete (data as { user?: unknown }).user;
  Object.defineProperty(data, USER, { value: user, writable: false, enumerable: false, configurable: false });
  Object.defineProperty(data, "user", user === null ? ANONYMOUS : SIGNED_IN);
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
 * Nothing per socket but the value: no accessor on the socket itself (one per socket would turn
 * every Socket.IO socket into a slow dictionary-mode object, about 1.8 KB per connection), and
 * one shared getter reading a private key rather than a closure per socket (distinct getters
 * give every data object its own shape: a dictionary-mode object, a closure and its context,
 * about 400 bytes per connection; bench scenario 4).
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
