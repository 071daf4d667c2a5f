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

/** Codes of a refused connection: the `connect_error` message is exactly the code. */
export const CONNECT_ERROR_CODES = ["UNAUTHORIZED", "FORBIDDEN_ORIGIN", "TOO_MANY_CONNECTIONS"] as const;

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
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** True when `code` is one a client may receive. */
export function isClientErrorCode(code: unknown): code is ClientErrorCode {
  return typeof code === "string" && (CLIENT_ERROR_CODES as readonly string[]).includes(code);
}
