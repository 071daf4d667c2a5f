import type { IncomingMessage } from "node:http";
import proxyaddr from "proxy-addr";

/** Whether the hop at `addr` (`i` hops from the peer, 0 = the peer) is a trusted proxy. */
export type TrustFn = (addr: string, i: number) => boolean;

const trustNone: TrustFn = () => false;
const trustAll: TrustFn = () => true;

/**
 * The trust function of `trustProxy`, with Express's `trust proxy` semantics: `false` trusts
 * nothing, `true` every hop, `n` the first `n` hops, a list the proxies it names
 * (addresses, CIDRs, `loopback`/`linklocal`/`uniquelocal`, compiled by `proxy-addr`).
 */
export function compileTrust(trustProxy: boolean | number | readonly string[]): TrustFn {
  if (trustProxy === false) return trustNone;
  if (trustProxy === true) return trustAll;
  if (typeof trustProxy === "number") return (_addr, i) => i < trustProxy;
  return proxyaddr.compile([...trustProxy]);
}

/**
 * The client IP of a request: the first untrusted address counting from the socket's peer
 * through `x-forwarded-for` (by `proxy-addr`, the library behind Express's `trust proxy`).
 * Without trust, the peer's address. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is reported as IPv4.
 */
export function clientIp(req: IncomingMessage, trust: TrustFn): string {
  const ip = req.socket ? proxyaddr(req, trust) : undefined;
  return normalizeIp(ip || "unknown");
}

function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}
