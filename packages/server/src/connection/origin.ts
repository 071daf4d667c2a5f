/**
 * Whether a handshake's `Origin` may connect. `"*"` admits all. A request without an
 * `Origin` header is not a browser's (browsers always send it on cross-site WebSocket and
 * CORS requests), so it is admitted: the allow-list defends against cross-site hijacking,
 * not against non-browser clients, which can send any header they like.
 */
export function originAllowed(origin: string | undefined, allowed: "*" | ReadonlySet<string>): boolean {
  if (allowed === "*" || origin === undefined) return true;
  return allowed.has(origin.toLowerCase());
}

/** The allow-list of `allowedOrigins`, lower-cased, or `"*"`. */
export function originAllowList(allowedOrigins: "*" | readonly string[]): "*" | ReadonlySet<string> {
  return allowedOrigins === "*" ? "*" : new Set(allowedOrigins.map((o) => o.toLowerCase()));
}
