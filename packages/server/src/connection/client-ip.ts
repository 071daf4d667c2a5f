import type { IncomingMessage } from "node:http";
import proxyaddr from "proxy-addr";

const trustAll = (): boolean => true;
const trustNone = (): boolean => false;

/**
 * The client IP of a request: the socket's peer address, or, only with `trustProxy`, the
 * client-most address of `x-forwarded-for` (by `proxy-addr`, the library behind Express's
 * `trust proxy`). IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is reported as IPv4.
 */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  const ip = req.socket ? proxyaddr(req, trustProxy ? trustAll : trustNone) : undefined;
  return normalizeIp(ip || "unknown");
}

function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}
