import type { IncomingMessage } from "node:http";

/**
 * The client IP of a request: the socket's remote address, or, only with `trustProxy`, the
 * first (client-most) address of `x-forwarded-for`. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is
 * reported as IPv4.
 */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const fwd = req.headers["x-forwarded-for"];
    const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(",")[0]?.trim();
    if (first) return normalizeIp(first);
  }
  return normalizeIp(req.socket?.remoteAddress ?? "unknown");
}

function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

/** Parses a `cookie` header into a record (first value wins; values URI-decoded when valid). */
export function parseCookies(header: string | string[] | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const raw = Array.isArray(header) ? header.join(";") : header;
  if (!raw) return out;
  for (const part of raw.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || name in out) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      out[name] = value;
    }
  }
  return out;
}

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
