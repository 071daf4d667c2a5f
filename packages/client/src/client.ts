import type { AckEnvelope, AnyWssRoute, ConnectErrorCode, LolyErrorEvent, PresenceSnapshot, RouteEmits } from "@loly-rt/core";
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import { LolyClientError } from "./errors.js";
import { livePresence, PRESENCE_EVENT } from "./presence.js";
import { createStates } from "./states.js";
import type { LolyAuth, LolyConnectRefusal, LolySocket, LolySocketOptions, ServerEvents } from "./types.js";

/** `__loly:error`; a literal here: the client imports no runtime value from `@loly-rt/core`. */
const ERROR_EVENT = "__loly:error";
/** Every code of a refused connection (the record makes a missing one a compile error). */
const CONNECT_CODES: ReadonlySet<string> = new Set(
  Object.keys({
    UNAUTHORIZED: true,
    FORBIDDEN_ORIGIN: true,
    TOO_MANY_CONNECTIONS: true,
    TOO_MANY_NAMESPACES: true,
    UNAVAILABLE: true,
    INTERNAL: true,
  } satisfies Record<ConnectErrorCode, true>),
);
const DEFAULT_PATH = "/wss";
const DEFAULT_TIMEOUT_MS = 10_000;
/** socket.io-client's message for an acknowledgement that timed out. */
const TIMED_OUT = "operation has timed out";

type AckCallback = (err: Error | null, ack?: unknown) => void;
/** The (private) acknowledgement table of a socket.io-client socket, used by `close()`. */
type AckTable = Record<string, (err: Error) => void> | undefined;
/** What `socket.on`/`off` accept (socket.io types the default event map loosely). */
// biome-ignore lint/suspicious/noExplicitAny: socket.io's own listener type
type AnyListener = (...args: any[]) => void;

function resolveBaseUrl(url: string | undefined): string {
  const raw = url ?? (globalThis as { location?: { origin?: string } }).location?.origin;
  if (raw === undefined || raw === "" || raw === "null") {
    throw new TypeError('lolySocket: `url` is required outside a browser, e.g. lolySocket("/chat", { url: "http://localhost:3000" })');
  }
  let origin = "null";
  try {
    origin = new URL(raw).origin;
  } catch {
    // reported below
  }
  if (origin === "null") {
    throw new TypeError(`lolySocket: \`url\` must be an absolute URL like "http://localhost:3000" (got ${JSON.stringify(raw)})`);
  }
  return origin;
}

/** Adapts Loly's `auth` forms to socket.io's `(cb) => void`, reporting a failing callback. */
function toSocketAuth(auth: LolyAuth | undefined, onFailure: (err: unknown) => void): SocketOptions["auth"] | undefined {
  if (typeof auth !== "function" || auth.length >= 1) return auth as SocketOptions["auth"] | undefined;
  const getAuth = auth as () => Record<string, unknown> | Promise<Record<string, unknown>>;
  return (cb) => {
    let value: Record<string, unknown> | Promise<Record<string, unknown>>;
    try {
      value = getAuth();
    } catch (err) {
      onFailure(err);
      return;
    }
    if (value instanceof Promise) value.then(cb, onFailure);
    else cb(value);
  };
}

/**
 * The code a handshake refusal carries: the server answers a foreign origin at the Engine.IO
 * handshake with HTTP 403 and `{ "message": "FORBIDDEN_ORIGIN" }`, which a polling transport
 * error exposes (`context.responseText`); a browser's WebSocket exposes nothing.
 */
function handshakeCode(err: Error & { type?: unknown; context?: unknown }): string | undefined {
  if (err.type !== "TransportError") return undefined;
  const text = (err.context as { responseText?: unknown } | undefined)?.responseText;
  if (typeof text !== "string" || !text.startsWith("{")) return undefined;
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    return typeof message === "string" && CONNECT_CODES.has(message) ? message : undefined;
  } catch {
    return undefined;
  }
}

function connectError(err: Error & { data?: unknown }): LolyClientError {
  const refusal = CONNECT_CODES.has(err.message) ? err.message : handshakeCode(err);
  const code = refusal !== undefined ? (refusal as ConnectErrorCode) : "CONNECT_FAILED";
  const message =
    code === "CONNECT_FAILED"
      ? `connection failed: ${err.message}`
      : refusal === err.message
        ? err.message
        : `refused at the handshake: ${code}`;
  return new LolyClientError(code, message, err.data, { cause: err });
}

function settleAck(event: string, resolve: (data: never) => void, reject: (err: LolyClientError) => void): AckCallback {
  return (err, ack) => {
    if (err) {
      reject(
        err.message === TIMED_OUT
          ? new LolyClientError("TIMEOUT", `"${event}" got no answer in time`, undefined, { event })
          : new LolyClientError("DISCONNECTED", `"${event}" got no answer: the connection closed`, undefined, { event }),
      );
      return;
    }
    const envelope = ack as AckEnvelope | null | undefined;
    if (envelope?.ok === true) {
      resolve(envelope.data as never);
    } else if (envelope?.ok === false && typeof envelope.error === "object" && envelope.error !== null) {
      const { code, message, details } = envelope.error;
      reject(new LolyClientError(code, message, details, { event }));
    } else {
      reject(
        new LolyClientError("INVALID_ACK", `"${event}" was answered with something else than { ok, data | error }`, ack, {
          event,
        }),
      );
    }
  };
}

/**
 * Connects to a namespace of a Loly Realtime server, typed from the server's route with a
 * type-only import. Works in browsers and in Node, over socket.io-client (several
 * namespaces of one server share one connection).
 *
 * @typeParam TRoute - the route's type (`typeof route`, a type-only import)
 * @typeParam TEmits - only to override the route's `emits` (name -> payload) as `on()` sees them
 * @param namespace - the route's namespace, like `"/chat"` or `"/rooms/42"`
 * @throws TypeError when `url` is missing outside a browser, or is not an absolute URL
 *
 * @example
 * import type chatRoute from "../server/wss/chat/events.js";
 *
 * const chat = lolySocket<typeof chatRoute>("/chat", { auth: { token } });
 * await chat.ready();
 * const reply = await chat.request("message", { text: "hi" }); // typed from the handler
 * chat.on("said", (m) => render(m.from, m.text)); // typed from the route's `emits`
 * chat.onError((e) => console.warn(e.code, e.message));
 * const here = chat.presence("lobby"); // a route with presence: { broadcast: true }
 * here.onChange((users) => renderUsers(users));
 */
export function lolySocket<TRoute = AnyWssRoute, TEmits extends ServerEvents = RouteEmits<TRoute>>(
  namespace: string,
  opts: LolySocketOptions = {},
): LolySocket<TRoute, TEmits> {
  const { url, path = DEFAULT_PATH, auth, ...rest } = opts;
  const ns = namespace.startsWith("/") ? namespace : `/${namespace}`;
  const defaultTimeoutMs = opts.ackTimeout ?? DEFAULT_TIMEOUT_MS;

  /** The last refusal or failure, for `ready()` calls made after it happened. */
  let lastError: LolyClientError | undefined;
  const waiters = new Set<{ resolve: () => void; reject: (err: LolyClientError) => void }>();
  const fail = (err: LolyClientError): void => {
    lastError = err;
    for (const w of waiters) w.reject(err);
    waiters.clear();
  };

  const socketOptions: Partial<ManagerOptions & SocketOptions> = { ...rest, path };
  const socketAuth = toSocketAuth(auth, (cause) => {
    // Without credentials the handshake would hang or connect anonymously: stop, and say why.
    socket.disconnect();
    fail(new LolyClientError("CONNECT_FAILED", `the auth callback failed: ${String(cause)}`, undefined, { cause }));
  });
  if (socketAuth !== undefined) socketOptions.auth = socketAuth;

  const socket: Socket = io(resolveBaseUrl(url) + ns, socketOptions);

  const states = createStates(socketOptions.autoConnect === false ? "disconnected" : "connecting");
  const errorListeners = new Set<(error: LolyErrorEvent | LolyConnectRefusal) => void>();
  socket.on("connect", () => {
    lastError = undefined;
    states.set("connected", { recovered: socket.recovered === true });
    for (const w of waiters) w.resolve();
    waiters.clear();
  });
  socket.on("disconnect", () => {
    // socket.io-client tries again by itself unless the server or the app ended it.
    states.set(socket.active ? "reconnecting" : "disconnected", { recovered: false });
  });
  socket.on("connect_error", (err) => {
    const refused = connectError(err);
    // UNAVAILABLE at the handshake is a server that cannot take the connection now (it is
    // draining for a deploy): socket.io tries again, elsewhere behind a balancer, as after any
    // failed attempt. Other handshake refusals (a transport error to socket.io, which would
    // retry for ever) leave it disconnected, as after a refusal at CONNECT.
    const retried = refused.code === "CONNECT_FAILED" || (refused.code === "UNAVAILABLE" && err.message !== refused.code);
    if (!retried && err.message !== refused.code) socket.disconnect();
    fail(refused);
    if (!retried) {
      const refusal: LolyConnectRefusal = {
        code: refused.code as ConnectErrorCode,
        message: refused.message,
        event: "connect",
        refused: true,
      };
      for (const listener of errorListeners) listener(refusal);
    }
    states.set(socket.active ? states.current : "disconnected", { recovered: false, error: refused });
  });
  socket.on(ERROR_EVENT, (error: LolyErrorEvent) => {
    for (const listener of errorListeners) listener(error);
  });

  const send = (event: string, args: unknown[], ack?: AckCallback, timeoutMs?: number): void => {
    const payload = args[0];
    const target = ack ? socket.timeout(timeoutMs ?? defaultTimeoutMs) : socket;
    // An absent payload is not sent (socket.io would turn `undefined` into `null`).
    if (payload === undefined) {
      if (ack) target.emit(event, ack);
      else target.emit(event);
    } else if (ack) target.emit(event, payload, ack);
    else target.emit(event, payload);
  };

  const client: LolySocket<TRoute, TEmits> = {
    socket,
    get connected() {
      return socket.connected;
    },
    emit(event, ...args) {
      send(event, args);
    },
    request(event, ...args) {
      return new Promise((resolve, reject) => {
        // Closed, refused or disconnected by the server: nothing would ever send it.
        if (!socket.active) {
          reject(new LolyClientError("DISCONNECTED", `"${event}" not sent: the client is disconnected`, undefined, { event }));
          return;
        }
        const options = args[1] as { timeoutMs?: number } | undefined;
        send(event, args, settleAck(event, resolve, reject), options?.timeoutMs);
      });
    },
    on(event, listener) {
      socket.on(event as string, listener as AnyListener);
      return () => {
        socket.off(event as string, listener as AnyListener);
      };
    },
    off(event, listener) {
      if (listener) socket.off(event as string, listener as AnyListener);
      else socket.off(event);
    },
    get state() {
      return states.current;
    },
    presence: ((room: string) =>
      livePresence(
        socket,
        room,
        (r) =>
          new Promise<PresenceSnapshot>((resolve, reject) => {
            if (!socket.active) {
              reject(
                new LolyClientError("DISCONNECTED", `presence of ${r}: the client is disconnected`, undefined, { event: PRESENCE_EVENT }),
              );
              return;
            }
            send(PRESENCE_EVENT, [{ room: r }], settleAck(PRESENCE_EVENT, resolve, reject));
          }),
      )) as LolySocket<TRoute, TEmits>["presence"],
    get recovered() {
      return states.recovered;
    },
    onState(listener) {
      return states.listen(listener);
    },
    onError(listener) {
      errorListeners.add(listener);
      return () => {
        errorListeners.delete(listener);
      };
    },
    ready() {
      if (socket.connected) return Promise.resolve();
      if (!socket.active) {
        return Promise.reject(lastError ?? new LolyClientError("DISCONNECTED", "the client is disconnected (closed)"));
      }
      return new Promise<void>((resolve, reject) => {
        waiters.add({ resolve, reject });
      });
    },
    close() {
      socket.disconnect();
      states.set("disconnected", { recovered: false });
      fail(new LolyClientError("DISCONNECTED", "the client was closed"));
      // Requests still waiting in socket.io's send buffer (made while connecting) would only
      // answer at their timeout: answer them now, and never send them.
      const acks = (socket as unknown as { acks?: AckTable }).acks;
      const buffered = socket.sendBuffer;
      if (buffered.length === 0) return;
      socket.sendBuffer = buffered.filter((packet) => packet.id === undefined);
      for (const packet of buffered) {
        if (packet.id === undefined) continue;
        const ack = acks?.[packet.id];
        if (ack === undefined) continue;
        delete acks?.[packet.id];
        ack.call(socket, new Error("socket has been disconnected"));
      }
    },
  };
  return client;
}
