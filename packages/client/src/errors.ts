import type { ClientErrorCode, ConnectErrorCode } from "@loly-rt/core";

/**
 * Codes the client raises itself (no server answer behind them):
 * - `TIMEOUT`: no acknowledgement within the request's `timeoutMs`.
 * - `DISCONNECTED`: the client was closed, refused, or disconnected by the server, or the
 *   connection dropped while the request waited for its answer.
 * - `CONNECT_FAILED`: a connection attempt failed for another reason than a Loly refusal
 *   (server unreachable, transport error, the `auth` callback threw).
 * - `INVALID_ACK`: the server answered with something other than a Loly acknowledgement
 *   (`{ ok: true, data }` / `{ ok: false, error }`): probably not a Loly server.
 */
export const LOCAL_ERROR_CODES = ["TIMEOUT", "DISCONNECTED", "CONNECT_FAILED", "INVALID_ACK"] as const;

/** A code the client raises itself; see {@link LOCAL_ERROR_CODES}. */
export type LocalErrorCode = (typeof LOCAL_ERROR_CODES)[number];

/**
 * Every code a {@link LolyClientError} can carry: the server's event codes (`BAD_PAYLOAD`,
 * `RATE_LIMIT`...), its connection refusals (`UNAUTHORIZED`, `FORBIDDEN_ORIGIN`,
 * `TOO_MANY_CONNECTIONS`) and the client's own ({@link LocalErrorCode}).
 */
export type LolyClientErrorCode = ClientErrorCode | ConnectErrorCode | LocalErrorCode;

const BRAND = Symbol.for("loly-rt.client-error");

/**
 * The error a request or `ready()` rejects with. `code` is the server's code when the
 * server refused (`BAD_PAYLOAD`, `FORBIDDEN`, `RATE_LIMIT`...), or one of the client's own.
 *
 * @example
 * try {
 *   await chat.request("message", { text });
 * } catch (err) {
 *   if (LolyClientError.is(err) && err.code === "RATE_LIMIT") wait(err.details);
 * }
 */
export class LolyClientError extends Error {
  /** The server's code, or the client's own (`TIMEOUT`, `DISCONNECTED`...). */
  readonly code: LolyClientErrorCode;
  /** What the server sent along (`BAD_PAYLOAD`: `{ issues }`, `RATE_LIMIT`: `{ retryAfterMs }`). */
  readonly details: unknown;
  /** The event of the request that failed (absent for connection errors). */
  readonly event: string | undefined;

  constructor(code: LolyClientErrorCode, message: string, details?: unknown, options?: { event?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LolyClientError";
    this.code = code;
    this.details = details;
    this.event = options?.event;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for a LolyClientError from any copy of this package (checked by brand, not identity). */
  static is(value: unknown): value is LolyClientError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}
