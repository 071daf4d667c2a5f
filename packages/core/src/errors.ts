/**
 * Codes a client can receive in `__loly:error` and in a failed acknowledgement.
 */
export const CLIENT_ERROR_CODES = [
  "BAD_PAYLOAD",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "RATE_LIMIT",
  "UNKNOWN_EVENT",
  "INTERNAL",
  "UNAVAILABLE",
] as const;

/**
 * Codes of a refused connection: the `connect_error` message is exactly the code (a foreign
 * origin is refused at the Engine.IO handshake: HTTP 403 whose JSON `message` is
 * `FORBIDDEN_ORIGIN`). `UNAVAILABLE`: the auth hook (or a backend it needs) did not answer in
 * time; `INTERNAL`: an unexpected failure during admission (logged with its stack).
 */
export const CONNECT_ERROR_CODES = [
  "UNAUTHORIZED",
  "FORBIDDEN_ORIGIN",
  "TOO_MANY_CONNECTIONS",
  "TOO_MANY_NAMESPACES",
  "UNAVAILABLE",
  "INTERNAL",
] as const;

/** Codes raised at start-up: a bad configuration or a broken route. */
export const STARTUP_ERROR_CODES = ["INVALID_CONFIG", "INVALID_ROUTE"] as const;

export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];
export type ConnectErrorCode = (typeof CONNECT_ERROR_CODES)[number];
export type StartupErrorCode = (typeof STARTUP_ERROR_CODES)[number];

/** Every code a {@link LolyError} can carry. */
export type LolyErrorCode = ClientErrorCode | ConnectErrorCode | StartupErrorCode;

/** The error shape sent to clients (in `__loly:error` and in `{ ok: false, error }` acks). */
export interface LolyErrorBody {
  code: ClientErrorCode;
  message: string;
  details?: unknown;
}

/** Payload of the `__loly:error` event: the error plus the event and request it answers. */
export interface LolyErrorEvent extends LolyErrorBody {
  event?: string;
  requestId?: string;
}

/** The acknowledgement envelope: exactly `{ ok: true, data }` or `{ ok: false, error }`. */
export type AckEnvelope<TData = unknown> = { ok: true; data: TData } | { ok: false; error: LolyErrorBody };

/** Name of the event every refusal is emitted as. */
export const ERROR_EVENT = "__loly:error" as const;

const BRAND = Symbol.for("loly-rt.error");

/**
 * The one error class of Loly Realtime. Throw it from a handler to answer the client with
 * that code instead of `INTERNAL`.
 *
 * @example
 * throw new LolyError("FORBIDDEN", "Only the owner can delete this room");
 */
export class LolyError extends Error {
  readonly code: LolyErrorCode;
  readonly details: unknown;

  constructor(code: LolyErrorCode, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LolyError";
    this.code = code;
    this.details = details;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for a LolyError from any copy of this package (checked by brand, not identity). */
  static is(value: unknown): value is LolyError {
    if (typeof value !== "object" || value === null) return false;
    try {
      return (value as Record<symbol, unknown>)[BRAND] === true;
    } catch {
      // A Proxy whose traps throw is not ours.
      return false;
    }
  }
}

/** True when `code` is one a client may receive. */
export function isClientErrorCode(code: unknown): code is ClientErrorCode {
  return typeof code === "string" && (CLIENT_ERROR_CODES as readonly string[]).includes(code);
}

/** True when `code` is one a refused connection may carry. */
export function isConnectErrorCode(code: unknown): code is ConnectErrorCode {
  return typeof code === "string" && (CONNECT_ERROR_CODES as readonly string[]).includes(code);
}

const GENERIC_INTERNAL = "Internal server error";

/**
 * The message of any thrown value, never throwing itself: an Error's `message`, else
 * `String(value)`; a value that cannot be turned into text (`Object.create(null)`, a Proxy
 * whose traps throw) reads as its type.
 */
export function thrownMessage(value: unknown): string {
  try {
    if (value instanceof Error) return String(value.message);
    return String(value);
  } catch {
    return `a thrown ${value === null ? "null" : typeof value} that cannot be read`;
  }
}

/**
 * What a thrown value becomes for a client: a {@link LolyError} with a client code keeps its
 * code, message and details; anything else is `INTERNAL`, whose message is generic in
 * production (no stack, no driver text) and the error's own message in development.
 *
 * @example
 * toClientError(new LolyError("FORBIDDEN", "Not yours"), true); // { code: "FORBIDDEN", message: "Not yours" }
 * toClientError(new Error("db down"), true);                    // { code: "INTERNAL", message: "Internal server error" }
 */
export function toClientError(err: unknown, production: boolean): LolyErrorBody {
  if (LolyError.is(err) && isClientErrorCode(err.code)) {
    const body: LolyErrorBody = { code: err.code, message: err.message };
    if (err.details !== undefined) body.details = err.details;
    return body;
  }
  if (production) return { code: "INTERNAL", message: GENERIC_INTERNAL };
  return { code: "INTERNAL", message: thrownMessage(err) || GENERIC_INTERNAL };
}
