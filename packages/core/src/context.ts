import type { LolyLogger, WssMetrics } from "./logger.js";
import type { WssPresence } from "./presence.js";
import type { RealtimeStateStore } from "./store.js";
import type { ClientErrorCode } from "./errors.js";

/** The HTTP request a connection came from, as handlers see it. */
export interface WssRequest {
  /** Lower-cased request headers of the handshake. */
  headers: Record<string, string | string[] | undefined>;
  /** Client IP: the socket's address, or the first `x-forwarded-for` hop with `trustProxy`. */
  ip: string;
  url: string;
  /** Cookies parsed from the `cookie` header. */
  cookies: Record<string, string>;
}

/** The Socket.IO handshake (a subset of socket.io's `Handshake`). */
export interface WssHandshake {
  headers: Record<string, string | string[] | undefined>;
  time: string;
  address: string;
  xdomain: boolean;
  secure: boolean;
  issued: number;
  url: string;
  query: Record<string, unknown>;
  /** What the client passed as `auth`. Untrusted input: never an identity by itself. */
  auth: Record<string, unknown>;
}

/**
 * The server-side socket (structurally a socket.io `Socket`; the server hands the real one).
 * Typed loosely here so `@loly-rt/core` needs no socket.io at run time.
 */
export interface WssSocket {
  readonly id: string;
  readonly handshake: WssHandshake;
  readonly rooms: Set<string>;
  readonly connected: boolean;
  data: Record<string, unknown>;
  emit(event: string, ...args: unknown[]): unknown;
  join(room: string | string[]): unknown;
  leave(room: string): unknown;
  disconnect(close?: boolean): unknown;
}

/**
 * The events a route sends to its clients, by name: event name -> payload type. A route that
 * declares `emits` has exactly those (see `defineWssRoute`); one that does not has this loose
 * default: any name, any payload.
 */
export type EmitMap = Record<string, unknown>;

/** The event names of an emit map. */
export type EmitName<TEmits> = Extract<keyof TEmits, string>;

/** The arguments after an event name: its payload, optional when the payload may be `undefined`. */
export type EmitArgs<TEmits, E extends keyof TEmits> = undefined extends TEmits[E] ? [payload?: TEmits[E]] : [payload: TEmits[E]];

/**
 * Emits to a target (a room, a user). `TEmits` is the route's `emits` (name -> payload); a
 * wrong name or payload is a compile error when the route declares them.
 */
export interface WssTarget<TEmits extends object = EmitMap> {
  /** Emits to every socket of the target on every instance. */
  emit<E extends EmitName<TEmits>>(event: E, ...args: EmitArgs<TEmits, E>): void;
  /** Like `emit`, but skips the calling socket. */
  broadcast<E extends EmitName<TEmits>>(event: E, ...args: EmitArgs<TEmits, E>): void;
}

/**
 * What a handler can do: `ctx.actions`. Every emit is typed by `TEmits`, the route's `emits`
 * (name -> payload): any name and payload for a route without `emits`.
 */
export interface WssActions<TEmits extends object = EmitMap> {
  /** Emits to the calling socket. */
  reply<E extends EmitName<TEmits>>(event: E, ...args: EmitArgs<TEmits, E>): void;
  /** Emits to the whole namespace, on every instance. */
  emit<E extends EmitName<TEmits>>(event: E, ...args: EmitArgs<TEmits, E>): void;
  /** Emits to the whole namespace except the caller. */
  broadcast<E extends EmitName<TEmits>>(event: E, ...args: EmitArgs<TEmits, E>): void;
  /** Joins the caller to `room` (and records it in presence; resolves when every instance sees it). */
  join(room: string): Promise<void>;
  /** Removes the caller from `room`. */
  leave(room: string): Promise<void>;
  /** Targets a room of this namespace. */
  toRoom(room: string): WssTarget<TEmits>;
  /** Targets every socket of a user in this namespace, on every instance. */
  toUser(userId: string): WssTarget<TEmits>;
  /** Emits `__loly:error` with this code to the caller. */
  error(code: ClientErrorCode, message: string, details?: unknown): void;
}

/** Context of the `auth` hook: what the connection presented, before any user exists. */
export interface AuthContext {
  socket: WssSocket;
  req: WssRequest;
  handshake: WssHandshake;
  namespace: string;
  /** Dynamic namespace segments (`/rooms/[id]` -> `{ id }`). */
  params: Record<string, string>;
  log: LolyLogger;
  state: RealtimeStateStore;
}

/**
 * The handler context. Built lazily by the server: fields cost nothing until read.
 *
 * @typeParam TData - the validated (possibly transformed) payload type
 * @typeParam TUser - what the route's `auth` hook returns (without `null`)
 * @typeParam TEmits - what the route sends (its `emits`: name -> payload); any event by default
 */
export interface WssContext<TData = unknown, TUser = unknown, TEmits extends object = EmitMap> {
  socket: WssSocket;
  /** The payload, validated and transformed by the event's schema. */
  data: TData;
  req: WssRequest;
  handshake: WssHandshake;
  /** The user the `auth` hook returned for this connection, or `null` (anonymous). */
  user: TUser | null;
  params: Record<string, string>;
  namespace: string;
  /** Event name (`"connect"`/`"disconnect"` in the connection hooks). */
  event: string;
  /** A fresh UUID per event. */
  requestId: string;
  state: RealtimeStateStore;
  presence: WssPresence;
  /** pino child bound to namespace, socketId, userId, event and requestId. */
  log: LolyLogger;
  metrics: WssMetrics;
  actions: WssActions<TEmits>;
}

/** Context of `onConnect`/`onDisconnect`: a handler context with no payload. */
export type WssConnectionContext<TUser = unknown, TEmits extends object = EmitMap> = WssContext<undefined, TUser, TEmits> & {
  /** Why the socket left (`onDisconnect` only), as socket.io reports it. */
  reason?: string;
  /**
   * True in `onConnect` when the socket recovered its session (connection-state recovery): same
   * socket id, its rooms back and the events it missed already delivered. Join what you join
   * on connect only when it is false, or joining twice is harmless.
   */
  recovered: boolean;
};
