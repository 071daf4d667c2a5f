import type {
  AnyWssRoute,
  ConnectErrorCode,
  LolyErrorEvent,
  RouteEmits,
  RouteEventInput,
  RouteEventName,
  RouteEventResult,
  RoutePresenceBroadcast,
} from "@loly-rt/core";
import type { ManagerOptions, Socket, SocketOptions } from "socket.io-client";
import type { LolyClientError } from "./errors.js";
import type { LolyPresence } from "./presence.js";

/**
 * Credentials sent in the handshake (`socket.handshake.auth` on the server), read by the
 * route's `auth` hook:
 * - an object, sent as is;
 * - a function without parameters returning the object (or a Promise of it), called before
 *   every connection attempt, so a reconnection sends a fresh token;
 * - socket.io's own form `(cb) => cb(data)` (a function declaring one parameter).
 *
 * @example
 * { token: "abc" }
 * async () => ({ token: await getToken() })
 */
export type LolyAuth =
  | Record<string, unknown>
  | (() => Record<string, unknown> | Promise<Record<string, unknown>>)
  | ((cb: (data: object) => void) => void);

/**
 * Options of {@link lolySocket}: Loly's own, plus any socket.io-client option
 * (`transports`, `reconnection`, `withCredentials`, `extraHeaders`...), passed through.
 */
export interface LolySocketOptions extends Partial<Omit<ManagerOptions & SocketOptions, "auth" | "path">> {
  /**
   * The server's origin (`http://localhost:3000`); any path in it is ignored (the namespace
   * and `path` decide). Required outside a browser.
   * @default the page's origin (`location.origin`) in a browser
   */
  url?: string;
  /**
   * The server's Socket.IO path (`RealtimeConfig.path`).
   * @default "/wss"
   */
  path?: string;
  /** Credentials sent in the handshake; see {@link LolyAuth}. */
  auth?: LolyAuth;
  /**
   * socket.io-client's option, used here as the default `timeoutMs` of `request()`.
   * @default 10000
   */
  ackTimeout?: number;
}

/** Options of one `request()`. */
export interface LolyRequestOptions {
  /**
   * How long to wait for the server's answer before rejecting with `TIMEOUT`. The time spent
   * waiting for a (re)connection counts.
   * @default the client's `ackTimeout` (10000)
   */
  timeoutMs?: number;
}

/** Event names a client may send to the route (`string` when the route type is unknown). */
export type ClientEventName<TRoute> = RouteEventName<TRoute>;

/** The payload argument of event `E`: optional when the payload may be `undefined` (no schema). */
export type PayloadArgs<TRoute, E extends string> =
  undefined extends RouteEventInput<TRoute, E> ? [payload?: RouteEventInput<TRoute, E>] : [payload: RouteEventInput<TRoute, E>];

/** The arguments of `request(event, ...)`: the payload, then the request options. */
export type RequestArgs<TRoute, E extends string> =
  undefined extends RouteEventInput<TRoute, E>
    ? [payload?: RouteEventInput<TRoute, E>, options?: LolyRequestOptions]
    : [payload: RouteEventInput<TRoute, E>, options?: LolyRequestOptions];

/**
 * Where the connection stands: `connecting` (the first attempt), `connected`, `reconnecting`
 * (the connection dropped and socket.io-client is trying again), `disconnected` (closed,
 * refused, or disconnected by the server: nothing more happens until `socket.connect()`).
 */
export type LolyConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

/** What `onState` reports with each state. */
export interface LolyStateDetail {
  /** On `connected`: the session was recovered (same socket id, rooms back, missed events delivered). */
  recovered: boolean;
  /** On `disconnected` after a refusal, or on a failed attempt: why. */
  error?: LolyClientError;
}

/** A refused connection attempt, as `onError` reports it (on the first connection or any reconnection). */
export interface LolyConnectRefusal {
  /** The server's refusal (`UNAUTHORIZED`, `FORBIDDEN_ORIGIN`...). */
  code: ConnectErrorCode;
  message: string;
  event: "connect";
  /** Always true: `"refused" in error` tells a refusal from an event's `__loly:error`. */
  refused: true;
}

/** Events the server sends (name -> payload); any name with an `unknown` payload by default. */
export type ServerEvents = Record<string, unknown>;

/**
 * A typed client of one namespace. `TRoute` is the server route's type (a type-only import of
 * the route file); `TEmits`, the events the server sends (name -> payload), comes from the
 * route's `emits`. Pass `TEmits` only to override it (a route without `emits`, or a narrower
 * view of one).
 */
export interface LolySocket<TRoute = AnyWssRoute, TEmits extends ServerEvents = RouteEmits<TRoute>> {
  /** The underlying socket.io-client socket (lifecycle events, `id`, `io` manager...). */
  readonly socket: Socket;
  /** True while connected to the namespace. */
  readonly connected: boolean;
  /** Where the connection stands (see {@link LolyConnectionState}). */
  readonly state: LolyConnectionState;
  /**
   * Whether the last (re)connection recovered the session: same socket id, rooms back, and the
   * events sent while away delivered before anything new. `false` after a fresh connection
   * (first one, or back after `recovery.windowMs`): reload what you show.
   */
  readonly recovered: boolean;
  /** Listens to state changes; returns a function that removes the listener. */
  onState(listener: (state: LolyConnectionState, detail: LolyStateDetail) => void): () => void;
  /**
   * Sends an event without waiting for an answer. Sent once connected if the client is
   * (re)connecting, like socket.io does.
   */
  emit<E extends ClientEventName<TRoute>>(event: E, ...args: PayloadArgs<TRoute, E>): void;
  /**
   * Sends an event and resolves with the handler's result (the acknowledgement's `data`).
   * Rejects with a {@link LolyClientError}: the server's code (`BAD_PAYLOAD`, `FORBIDDEN`,
   * `RATE_LIMIT`...), `TIMEOUT` without an answer within `timeoutMs`, `DISCONNECTED` when the
   * client is closed or the connection drops before the answer. To pass options to an event
   * without payload, pass `undefined` as payload.
   */
  request<E extends ClientEventName<TRoute>>(event: E, ...args: RequestArgs<TRoute, E>): Promise<RouteEventResult<TRoute, E>>;
  /** Listens to a server event (typed by the route's `emits`); returns a function that removes the listener. */
  on<E extends Extract<keyof TEmits, string>>(event: E, listener: (payload: TEmits[E]) => void): () => void;
  /**
   * The live list of a room's users (a route with `presence: { broadcast: true }`): the
   * server's snapshot, then each `__loly:presence` diff, resynced after every reconnection.
   * The server answers members of the room only: ask for a room the socket joined (or is about
   * to join: the request waits up to 5 s for it). Only on routes that broadcast presence (or
   * whose type is unknown). See {@link LolyPresence}.
   *
   * @example
   * const lobby = chat.presence("lobby");
   * lobby.onChange((users) => render(users));
   * await lobby.ready();
   */
  readonly presence: RoutePresenceBroadcast<TRoute> extends true ? (room: string) => LolyPresence : never;
  /** Removes a listener (or every listener of the event when none is given). */
  off<E extends Extract<keyof TEmits, string>>(event: E, listener?: (payload: TEmits[E]) => void): void;
  /**
   * Listens to `__loly:error` (every refusal of an event) and to refused connection attempts
   * (the first connection or any reconnection: `"refused" in error`); returns a function that
   * removes it.
   */
  onError(listener: (error: LolyErrorEvent | LolyConnectRefusal) => void): () => void;
  /**
   * Resolves once connected (at once when already connected). Rejects with a
   * {@link LolyClientError} on the next failed attempt: the server's refusal code
   * (`UNAUTHORIZED`, `FORBIDDEN_ORIGIN`, `TOO_MANY_CONNECTIONS`; the client then stays
   * disconnected), `UNAVAILABLE` (a draining server: socket.io retries; call `ready()` again),
   * or `CONNECT_FAILED` (after a network or transport failure socket.io retries; after an
   * unknown namespace it does not);
   * `DISCONNECTED` at once when the client is not connecting (closed, or `autoConnect: false`
   * before `socket.connect()`).
   */
  ready(): Promise<void>;
  /** Disconnects; pending requests reject with `DISCONNECTED`. `socket.connect()` reconnects. */
  close(): void;
}
