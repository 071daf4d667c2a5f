/**
 * The rules across keys and the environment: production origins, the Redis URL fallbacks
 * (`scale.adapter.url`, `scale.stateStore.url`, `REDIS_URL`), cluster mode and the metrics
 * path. Keys whose own value was refused are skipped (their problem is already listed).
 */
import type { RealtimeConfig, RealtimeConfigInput } from "@loly-rt/core";
import { isRedisUrl, ORIGIN_EXAMPLE, REDIS_URL_EXPECTED } from "@loly-rt/core/config";
import { formatValue, type Collector } from "./collector.js";

/** What the rules read besides the config. */
export interface RuleContext {
  /** The user's config as given (`{}` when it was not an object). */
  given: RealtimeConfigInput;
  production: boolean;
  /** `REDIS_URL` of the environment. */
  envRedisUrl: string | undefined;
  out: Collector;
  warnings: string[];
}

function productionOrigins({ given, production, out }: RuleContext): void {
  if (!production || out.bad.has("allowedOrigins")) return;
  if (given.allowedOrigins === undefined) {
    out.other(
      "allowedOrigins",
      `required in production (NODE_ENV=production): list the origins allowed to connect, e.g. [${ORIGIN_EXAMPLE}]`,
    );
  } else if (given.allowedOrigins === "*") {
    out.expected("allowedOrigins", `a list of origins like [${ORIGIN_EXAMPLE}] in production (NODE_ENV=production)`, "*");
  }
}

/** Redis URLs (resolved into `config`), the adapter cluster mode needs, the store cluster mode should share. */
function scale(config: RealtimeConfig, { envRedisUrl, out, warnings }: RuleContext): void {
  const { scale } = config;
  const cluster = scale.mode === "cluster" && !out.bad.has("scale.mode");
  const envUrlProblem = (path: string): void => {
    out.other(path, `REDIS_URL is ${formatValue(envRedisUrl)}: expected ${REDIS_URL_EXPECTED}`);
  };

  const custom = scale.adapter?.type === "custom";
  if (scale.adapter && !out.bad.has("scale.adapter") && !out.bad.has("scale.adapter.type")) {
    if (custom && scale.adapter.create === undefined && !out.bad.has("scale.adapter.create"))
      out.other("scale.adapter.create", 'required for type "custom": (io) => the adapter to pass to io.adapter()');
    if (!custom && scale.adapter.create !== undefined)
      out.other("scale.adapter.create", 'only for type "custom": set scale.adapter.type: "custom" to use your own adapter');
  }
  if (custom && cluster && scale.stateStore.url === undefined && scale.adapter?.url === undefined && !envRedisUrl) {
    out.other(
      "scale.stateStore.url",
      "required in cluster mode with a custom adapter (presence, connection counts and ip/user limits use Redis): set it or REDIS_URL",
    );
  }
  for (const [path, group] of [
    ["scale.adapter", scale.adapter],
    ["scale.stateStore", scale.stateStore],
  ] as const) {
    const given = group ? (["url", "cluster", "sentinel"] as const).filter((k) => group[k] !== undefined) : [];
    if (given.length > 1) out.other(`${path}.${given[1]}`, `one of url, cluster or sentinel: ${given.join(" and ")} are both set`);
  }
  if (scale.adapter?.pubsub === "sharded" && config.recovery.enabled && !out.bad.has("scale.adapter.pubsub")) {
    out.other(
      "scale.adapter.pubsub",
      '"sharded" needs recovery: false (the recovery log keeps one order per namespace; sharded channels have one per room). Use "classic" or "auto" with recovery on',
    );
  }
  if (custom && scale.adapter?.pubsub !== undefined && scale.adapter.pubsub !== "auto" && !out.bad.has("scale.adapter.pubsub"))
    out.other("scale.adapter.pubsub", 'only for type "redis": a custom adapter travels its own way');
  const topology = scale.adapter?.cluster !== undefined || scale.adapter?.sentinel !== undefined;
  if (
    scale.adapter &&
    !custom &&
    !topology &&
    !out.bad.has("scale.adapter") &&
    scale.adapter.url === undefined &&
    !out.bad.has("scale.adapter.url")
  ) {
    if (envRedisUrl === undefined || envRedisUrl === "") {
      if (cluster) {
        out.other(
          "scale.adapter.url",
          'required: set scale.adapter.url (e.g. "redis://localhost:6379") or the REDIS_URL environment variable',
        );
      }
    } else if (isRedisUrl(envRedisUrl)) {
      scale.adapter.url = envRedisUrl;
    } else if (cluster) {
      envUrlProblem("scale.adapter.url");
    }
  }
  if (cluster && scale.adapter === undefined && !out.bad.has("scale.adapter")) {
    out.other(
      "scale.adapter",
      'required when scale.mode is "cluster": add scale.adapter: { type: "redis", url: "redis://..." } (or set scale.mode: "single")',
    );
  }
  if (!cluster && scale.adapter !== undefined && !out.bad.has("scale.mode")) {
    warnings.push('scale.adapter: ignored because scale.mode is "single"; set scale.mode: "cluster" to use it');
  }

  const store = scale.stateStore;
  const storeTopology = store.url !== undefined || store.cluster !== undefined || store.sentinel !== undefined;
  // A store without its own Redis takes the adapter's topology (cluster or sentinel) when it has one.
  if (!storeTopology && scale.adapter?.cluster !== undefined) store.cluster = scale.adapter.cluster;
  if (!storeTopology && scale.adapter?.sentinel !== undefined) store.sentinel = scale.adapter.sentinel;
  const storeHasTopology = store.cluster !== undefined || store.sentinel !== undefined;
  if (store.type === "redis" && store.url === undefined && !storeHasTopology && !out.bad.has("scale.stateStore.url")) {
    const fallback = scale.adapter?.url ?? envRedisUrl;
    if (fallback === undefined || fallback === "") {
      out.other(
        "scale.stateStore.url",
        'required for type "redis": set scale.stateStore.url, scale.adapter.url or the REDIS_URL environment variable',
      );
    } else if (isRedisUrl(fallback)) {
      store.url = fallback;
    } else {
      envUrlProblem("scale.stateStore.url");
    }
  }
  if (cluster && store.type === "memory" && !out.bad.has("scale.stateStore.type")) {
    warnings.push(
      "scale.stateStore: cluster mode with the memory store: ctx.state is per-instance (each instance sees only its own values; " +
        'presence, connection counts and ip/user limits still use Redis). Set scale.stateStore: { type: "redis" } (it uses scale.adapter.url) to share state across the cluster.',
    );
  }
}

function metricsPath(config: RealtimeConfig, { out }: RuleContext): void {
  const { metrics } = config;
  if (!metrics.enabled || out.bad.has("metrics.path") || out.bad.has("path")) return;
  if (metrics.path === config.path || metrics.path.startsWith(`${config.path.replace(/\/$/, "")}/`)) {
    out.other(
      "metrics.path",
      `${formatValue(metrics.path)} collides with the Socket.IO path ${formatValue(config.path)}: choose a path outside it, e.g. "/metrics"`,
    );
  }
}

/** `docs.asyncapiPath` is answered before Socket.IO and the metrics: it must not shadow either. */
function asyncapiPath(config: RealtimeConfig, { out }: RuleContext): void {
  const path = config.docs.asyncapiPath;
  if (path === undefined || out.bad.has("docs.asyncapiPath") || out.bad.has("path")) return;
  if (path === config.path || path.startsWith(`${config.path.replace(/\/$/, "")}/`)) {
    out.other(
      "docs.asyncapiPath",
      `${formatValue(path)} collides with the Socket.IO path ${formatValue(config.path)}: choose a path outside it, e.g. "/asyncapi.json"`,
    );
  } else if (config.metrics.enabled && config.metrics.port === undefined && path === config.metrics.path) {
    out.other("docs.asyncapiPath", `${formatValue(path)} is metrics.path: choose another path, e.g. "/asyncapi.json"`);
  }
}

/** Applies every rule to `config` (a full config: refused values replaced by their defaults), in this order. */
export function applyRules(config: RealtimeConfig, context: RuleContext): void {
  productionOrigins(context);
  scale(config, context);
  metricsPath(config, context);
  asyncapiPath(config, context);
}
