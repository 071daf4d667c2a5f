/** Where a Redis is: one URL, the seed nodes of a Redis Cluster, or a Sentinel group. */
export type RedisTopology =
  | { readonly url: string }
  | { readonly cluster: readonly string[] }
  | { readonly sentinel: { readonly sentinels: readonly string[]; readonly name: string } };

/** A node address and the credentials a `redis://[user:password@]host:port` URL carries. */
export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
}

/** Parses a `redis://` or `rediss://` URL into a node address (port 6379, or 26379 for a sentinel, when absent). */
export function redisNodeOf(url: string, defaultPort = 6379): RedisNodeAddress {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ""),
    port: u.port ? Number(u.port) : defaultPort,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    tls: u.protocol === "rediss:",
  };
}

/**
 * The ioredis arguments of a topology, without importing ioredis: `new Redis(url, options)` for
 * a URL, `new Cluster(nodes, { redisOptions: options })` for a cluster (credentials and TLS of
 * the first seed apply to every node), `new Redis({ ...options, sentinels, name })` for a
 * Sentinel group (the seeds' credentials are the master's).
 */
export function describeTopology(
  topology: RedisTopology,
):
  | { kind: "url"; url: string }
  | { kind: "cluster"; nodes: Array<{ host: string; port: number }>; redisOptions: Record<string, unknown> }
  | { kind: "sentinel"; options: Record<string, unknown> } {
  if ("url" in topology) return { kind: "url", url: topology.url };
  if ("cluster" in topology) {
    const nodes = topology.cluster.map((url) => redisNodeOf(url));
    const first = nodes[0];
    const redisOptions: Record<string, unknown> = {};
    if (first?.username) redisOptions.username = first.username;
    if (first?.password) redisOptions.password = first.password;
    if (first?.tls) redisOptions.tls = {};
    return { kind: "cluster", nodes: nodes.map(({ host, port }) => ({ host, port })), redisOptions };
  }
  const sentinels = topology.sentinel.sentinels.map((url) => redisNodeOf(url, 26379));
  const first = sentinels[0];
  const options: Record<string, unknown> = {
    sentinels: sentinels.map(({ host, port }) => ({ host, port })),
    name: topology.sentinel.name,
  };
  if (first?.username) options.username = first.username;
  if (first?.password) options.password = first.password;
  return { kind: "sentinel", options };
}

/** A topology for messages: its URLs without passwords. */
export function topologyText(topology: RedisTopology): string {
  const hide = (url: string): string => {
    try {
      const u = new URL(url);
      if (u.password) u.password = "***";
      return u.toString().replace(/\/$/, "");
    } catch {
      return "<invalid url>";
    }
  };
  if ("url" in topology) return hide(topology.url);
  if ("cluster" in topology) return `Redis Cluster ${topology.cluster.map(hide).join(", ")}`;
  return `Sentinel "${topology.sentinel.name}" at ${topology.sentinel.sentinels.map(hide).join(", ")}`;
}
