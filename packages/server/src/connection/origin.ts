import type { IncomingMessage } from "node:http";
import type { ServerOptions } from "socket.io";

/** An `Origin` as browsers send it: lower-case, without the scheme's default port; `null` when unparsable. */
export function normalizeOrigin(origin: string): string | null {
  try {
    const url = new URL(origin);
    return url.origin === "null" ? origin.toLowerCase() : url.origin;
  } catch {
    return null;
  }
}

/**
 * Whether a handshake's `Origin` may connect. `"*"` admits all. A request without an
 * `Origin` header is not a browser's (browsers always send it on cross-site WebSocket and
 * CORS requests), so it is admitted: the allow-list defends against cross-site hijacking,
 * not against non-browser clients, which can send any header they like.
 */
export function originAllowed(origin: string | undefined, allowed: "*" | ReadonlySet<string>): boolean {
  if (allowed === "*" || origin === undefined) return true;
  const normal = normalizeOrigin(origin);
  return normal !== null && allowed.has(normal);
}

/** The allow-list of `allowedOrigins` (already canonical: lower-case, no default port), or `"*"`. */
export function originAllowList(allowedOrigins: "*" | readonly string[]): "*" | ReadonlySet<string> {
  return allowedOrigins === "*" ? "*" : new Set(allowedOrigins.map((o) => normalizeOrigin(o) ?? o.toLowerCase()));
}

function originOf(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  return typeof origin === "string" ? origin : undefined;
}

/**
 * Engine.IO's `allowRequest`: the origin allow-list at the handshake, before a session exists
 * (so a refused one is never counted against an IP), for every transport and every namespace.
 * A foreign origin gets HTTP 403 (polling) or 400 (websocket upgrade) whose message is
 * `FORBIDDEN_ORIGIN`; while the server drains, every new session gets `UNAVAILABLE`.
 */
export function allowRequest(
  allowed: "*" | ReadonlySet<string>,
  refused: () => void,
  draining: () => boolean,
): NonNullable<ServerOptions["allowRequest"]> {
  return (req, callback) => {
    // A draining server takes no new session: the client retries, through the load balancer, elsewhere.
    if (draining()) return callback("UNAVAILABLE", false);
    if (originAllowed(originOf(req), allowed)) return callback(null, true);
    refused();
    callback("FORBIDDEN_ORIGIN", false);
  };
}

/**
 * The CORS answer: any origin without credentials for `"*"`; for a list, the caller's origin
 * with credentials only when it is allowed, and no CORS headers at all for a foreign one.
 */
export function corsOptions(allowed: "*" | ReadonlySet<string>): NonNullable<ServerOptions["cors"]> {
  if (allowed === "*") return { origin: "*", credentials: false };
  return (req, callback) => {
    const origin = originOf(req as IncomingMessage);
    if (origin !== undefined && originAllowed(origin, allowed)) callback(null, { origin, credentials: true, methods: ["GET", "POST"] });
    else callback(null, { origin: false });
  };
}
