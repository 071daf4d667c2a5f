import { LolyError } from "@loly-rt/core";
import type { RealtimeConfig, RealtimeConfigInput } from "@loly-rt/core";

/** What {@link resolveConfig} returns. */
export interface ResolvedConfig {
  /** Every key set: the input merged over the defaults, Redis URLs resolved. A fresh object. */
  config: RealtimeConfig;
  /** Problems that do not stop start-up (log them), each starting with its key path. */
  warnings: string[];
  /** True when `NODE_ENV` was `"production"`. */
  production: boolean;
}

/** The environment {@link resolveConfig} reads. */
export interface ConfigEnv {
  /** `"production"` is production; anything else is development. */
  NODE_ENV?: string | undefined;
  /** Fallback Redis URL. When the key is absent from the object, `process.env.REDIS_URL` is used. */
  REDIS_URL?: string | undefined;
}

/** One documented configuration key, as {@link describeConfig} lists it. */
export interface ConfigKeyDescription {
  /** Dotted key path, e.g. `"limits.burst"`. */
  path: string;
  /** The accepted values, in words, e.g. `"integer >= 1"`. */
  type: string;
  /** Default in development; `undefined` when the key has none (optional or computed). */
  default: unknown;
  /** Default in production, present only where it differs from `default`. */
  productionDefault?: unknown;
  /** True when production (NODE_ENV=production) requires the key. */
  requiredInProduction?: boolean;
  /** What the key does. */
  description: string;
}

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

const MAX_TIMER_MS = 2_147_483_647;
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const TRANSPORTS = ["websocket", "polling"] as const;
const ORIGIN_EXAMPLE = '"https://app.example.com"';

/* ---------------------------------------------------------------- the key tree */

/** Reports a bad value: what is expected, optionally at a sub-path (`[1]`) with its own value. */
type Report = (expected: string, subPath?: string, got?: unknown) => void;

interface Leaf {
  kind: "leaf";
  type: string;
  default: unknown;
  productionDefault?: unknown;
  requiredInProduction?: boolean;
  description: string;
  /** Calls `report` for each problem of a defined value. */
  check(value: unknown, report: Report): void;
  /** Canonical form of a valid value (a copy for arrays). */
  normalize?(value: unknown): unknown;
}

interface Group {
  kind: "group";
  description: string;
  /** An optional group has no default: absent stays absent. */
  optional?: boolean;
  keys: Record<string, Node>;
}

type Node = Leaf | Group;

function leaf(spec: Omit<Leaf, "kind">): Leaf {
  return { kind: "leaf", ...spec };
}

function group(description: string, keys: Record<string, Node>, optional = false): Group {
  return { kind: "group", description, optional, keys };
}

const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

function bool(description: string, def: unknown, extra: Partial<Leaf> = {}): Leaf {
  return leaf({
    type: "boolean",
    default: def,
    description,
    check: (v, report) => {
      if (typeof v !== "boolean") report("true or false");
    },
    ...extra,
  });
}

function oneOf(values: readonly string[], description: string, def: unknown): Leaf {
  const expected = values.map((v) => JSON.stringify(v)).join(" | ");
  return leaf({
    type: expected,
    default: def,
    description,
    check: (v, report) => {
      if (typeof v !== "string" || !values.includes(v)) report(`one of ${expected}`);
    },
  });
}

/** An integer >= min (and <= max when given). */
function integer(min: number, description: string, def: unknown, max?: number): Leaf {
  const expected = max === undefined ? `an integer >= ${min}` : `an integer between ${min} and ${max}`;
  return leaf({
    type: expected.replace(/^an /, ""),
    default: def,
    description,
    check: (v, report) => {
      if (!Number.isInteger(v) || (v as number) < min || (max !== undefined && (v as number) > max)) report(expected);
    },
  });
}

/** Milliseconds fed to timers: an integer (Node clamps anything above 2^31-1 to 1ms). */
function millis(min: number, description: string, def: unknown): Leaf {
  const l = integer(min, description, def, MAX_TIMER_MS);
  l.type += " (milliseconds)";
  return l;
}

function number(description: string, def: unknown, min: number, inclusive: boolean): Leaf {
  const expected = `a number ${inclusive ? ">=" : ">"} ${min}`;
  return leaf({
    type: expected.replace(/^a /, ""),
    default: def,
    description,
    check: (v, report) => {
      if (!isFiniteNumber(v) || (inclusive ? v < min : v <= min)) report(expected);
    },
  });
}

function httpPath(description: string, def: string): Leaf {
  return leaf({
    type: 'string starting with "/"',
    default: def,
    description,
    check: (v, report) => {
      if (typeof v !== "string" || !/^\/[^\s?#]*$/.test(v)) report('a URL path starting with "/" (no spaces, "?" or "#"), e.g. "/wss"');
    },
  });
}

function redisUrl(description: string): Leaf {
  return leaf({
    type: "redis:// or rediss:// URL",
    default: undefined,
    description,
    check: (v, report) => {
      if (!isRedisUrl(v)) report('a Redis URL like "redis://localhost:6379" (redis:// or rediss://)');
    },
  });
}

function isRedisUrl(value: unknown): value is string {
  if (typeof value !== "string") return false;
  try {
    const url = new URL(value);
    return (url.protocol === "redis:" || url.protocol === "rediss:") && url.hostname !== "";
  } catch {
    return false;
  }
}

/** An Origin header value: scheme://host[:port], no path. Returns the canonical form or null. */
function canonicalOrigin(value: unknown): string | null {
  if (typeof value !== "string" || value.includes("*") || !/^[a-z][a-z0-9+.-]*:\/\/[^/?#\s@]+$/i.test(value)) return null;
  try {
    const url = new URL(value);
    // Browsers send http(s) origins lower-cased and without the default port; match that.
    return url.origin !== "null" ? url.origin : value.toLowerCase();
  } catch {
    return null;
  }
}

const SCHEMA: Group = group("The realtime configuration.", {
  enabled: bool("Turns the realtime server on; `false` creates it without accepting connections.", true),
  path: httpPath("HTTP path of the Socket.IO endpoint (clients use the same `path`).", "/wss"),
  transports: leaf({
    type: '("websocket" | "polling")[]',
    default: ["websocket", "polling"],
    description: "Engine.IO transports accepted, in upgrade order.",
    check: (v, report) => {
      if (
        !Array.isArray(v) ||
        v.length === 0 ||
        v.some((t) => !(TRANSPORTS as readonly unknown[]).includes(t)) ||
        new Set(v).size !== v.length
      ) {
        report('a non-empty list of "websocket" and/or "polling" (no repeats)');
      }
    },
    normalize: (v) => [...(v as string[])],
  }),
  pingIntervalMs: millis(1, "Heartbeat interval of the Engine.IO connection.", 25000),
  pingTimeoutMs: millis(1, "How long to wait for a heartbeat answer before closing the connection.", 20000),
  maxPayloadBytes: integer(1, "Largest accepted message (websocket frame or polling body); bigger ones never reach a handler.", 65536),
  allowedOrigins: leaf({
    type: '"*" | string[]',
    default: "*",
    requiredInProduction: true,
    description:
      'Origins allowed to connect (websocket and polling handshakes), each like "https://app.example.com". `"*"` allows any origin and is refused in production.',
    check: (v, report) => {
      if (v === "*") return;
      if (!Array.isArray(v) || v.length === 0) {
        report(`"*" or a non-empty list of origins like [${ORIGIN_EXAMPLE}]`);
        return;
      }
      v.forEach((origin, i) => {
        if (origin === "*") report('an origin; to allow any origin write allowedOrigins: "*" (not inside a list)', `[${i}]`, origin);
        else if (canonicalOrigin(origin) === null) {
          report(`an origin like ${ORIGIN_EXAMPLE} (scheme://host[:port], no path, no trailing "/", no wildcard)`, `[${i}]`, origin);
        }
      });
    },
    normalize: (v) => (v === "*" ? "*" : [...new Set((v as string[]).map((o) => canonicalOrigin(o) as string))]),
  }),
  trustProxy: bool("Read the client IP from `x-forwarded-for` (only behind your own proxy).", false),
  scale: group("Single process or a cluster of instances over Redis.", {
    mode: oneOf(["single", "cluster"], '"cluster" runs several instances over Redis and needs `scale.adapter`.', "single"),
    adapter: group(
      "Cross-instance fan-out. Required in cluster mode.",
      {
        type: oneOf(["redis"], "The adapter kind (only Redis).", "redis"),
        url: redisUrl("Redis URL of the adapter. Falls back to `REDIS_URL`."),
      },
      true,
    ),
    stateStore: group("The store behind `ctx.state`; its prefix names every key the cluster writes.", {
      type: oneOf(["memory", "redis"], "`memory` keeps everything in this process; `redis` shares it across the cluster.", "memory"),
      url: redisUrl("Redis URL of the store (type redis). Falls back to `scale.adapter.url`, then `REDIS_URL`."),
      prefix: leaf({
        type: "non-empty string",
        default: "loly:",
        description:
          "The cluster's name: every key the cluster writes and the adapter's channels live under it. Instances with the same Redis and prefix form one cluster.",
        check: (v, report) => {
          if (typeof v !== "string" || v.length === 0) report('a non-empty string, e.g. "loly:"');
        },
      }),
    }),
    commandTimeoutMs: millis(1, "No store, limiter or presence call waits longer; then `UNAVAILABLE`.", 3000),
  }),
  limits: group("Connection and event limits.", {
    connectionsPerIp: integer(1, "Open connections per client IP (cluster-wide in cluster mode); more get `TOO_MANY_CONNECTIONS`.", 20),
    eventsPerSecond: number("Refill rate of the global event bucket, per second.", 30, 0, false),
    burst: number("Capacity of the global event bucket: events accepted at once.", 60, 1, true),
    scope: oneOf(["socket", "ip", "user"], "Who shares the global bucket (`ip` and `user` are cluster-wide in cluster mode).", "socket"),
    onStoreError: oneOf(
      ["allow", "deny"],
      "What a cluster-wide limiter decides when its store is unreachable: admit (`allow`) or refuse (`deny`).",
      "allow",
    ),
  }),
  presence: group("Who is online.", {
    ttlMs: millis(100, "Entries of an instance that stopped (even by SIGKILL) expire within this time (heartbeat every ttlMs/3).", 15000),
  }),
  logging: group("pino logging.", {
    level: oneOf(LOG_LEVELS, "Lowest level written.", "info"),
    pretty: bool("Human-readable lines (needs `pino-pretty`) instead of JSON.", true, { productionDefault: false }),
  }),
  metrics: group("Prometheus metrics.", {
    enabled: bool("Serve metrics on the same HTTP listener as Socket.IO.", true),
    path: httpPath("HTTP path of the metrics endpoint; must differ from `path`.", "/metrics"),
  }),
  handlerTimeoutMs: integer(
    0,
    "A handler that has not settled after this long answers `INTERNAL` and is let go. 0 = never.",
    30000,
    MAX_TIMER_MS,
  ),
});

/* ---------------------------------------------------------------- helpers */

function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value as DeepReadonly<T>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function formatValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "function") return "a function";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "symbol" || value === null) return String(value);
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return Array.isArray(value) ? "an array" : "an object";
  }
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost));
    }
    prev = row;
  }
  return prev[b.length] as number;
}

const join = (base: string, key: string): string => (base === "" ? key : `${base}.${key}`);

function allPaths(node: Group, base = ""): string[] {
  const out: string[] = [];
  for (const [key, child] of Object.entries(node.keys)) {
    const path = join(base, key);
    out.push(path);
    if (child.kind === "group") out.push(...allPaths(child, path));
  }
  return out;
}

const KNOWN_PATHS = allPaths(SCHEMA);

/** "did you mean" for an unknown key: a close sibling, else the same name elsewhere in the tree. */
function suggest(key: string, siblings: string[], base: string): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const sibling of siblings) {
    const d = sibling.toLowerCase() === lower ? 0 : levenshtein(lower, sibling.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = sibling;
    }
  }
  if (best !== undefined && bestDistance <= (key.length > 4 ? 2 : 1)) return join(base, best);
  return KNOWN_PATHS.find((path) => path.split(".").pop()?.toLowerCase() === lower);
}

/* ---------------------------------------------------------------- resolve */

interface Problem {
  path: string;
  text: string;
}

class Collector {
  readonly problems: Problem[] = [];
  /** Paths whose value was rejected (cross-key rules skip them). */
  readonly bad = new Set<string>();

  expected(path: string, expected: string, got: unknown): void {
    this.bad.add(path);
    this.problems.push({ path, text: `expected ${expected}, got ${formatValue(got)}` });
  }

  other(path: string, text: string): void {
    this.bad.add(path);
    this.problems.push({ path, text });
  }
}

/** Validates `input` against `node` and returns the merged value (`undefined` for an absent optional group). */
function resolveNode(node: Node, input: unknown, path: string, production: boolean, out: Collector): unknown {
  if (node.kind === "leaf") {
    const def = production && "productionDefault" in node ? node.productionDefault : node.default;
    if (input === undefined) return Array.isArray(def) ? [...def] : def;
    let ok = true;
    node.check(input, (expected, subPath, got) => {
      ok = false;
      out.expected(subPath === undefined ? path : `${path}${subPath}`, expected, subPath === undefined ? input : got);
    });
    if (!ok) {
      out.bad.add(path);
      return Array.isArray(def) ? [...def] : def;
    }
    return node.normalize ? node.normalize(input) : input;
  }
  if (input === undefined && node.optional) return undefined;
  const given = input === undefined ? {} : input;
  if (!isPlainObject(given)) {
    out.expected(path === "" ? "config" : path, "an object", input);
    return resolveNode(node, node.optional ? undefined : {}, path, production, new Collector());
  }
  const siblings = Object.keys(node.keys);
  for (const key of Object.keys(given)) {
    if (Object.hasOwn(node.keys, key)) continue;
    const hint = suggest(key, siblings, path);
    out.other(join(path, key), `unknown key${hint ? ` (did you mean ${hint}?)` : ""}; allowed here: ${siblings.join(", ")}`);
  }
  const result: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(node.keys)) {
    const value = resolveNode(child, given[key], join(path, key), production, out);
    if (value !== undefined) result[key] = value;
  }
  return result;
}

/**
 * The development defaults (`NODE_ENV` other than `"production"`). Frozen; in production
 * `logging.pretty` defaults to `false` and `allowedOrigins` has no default (it is required).
 */
export const DEFAULT_CONFIG: DeepReadonly<RealtimeConfig> = deepFreeze(
  resolveNode(SCHEMA, undefined, "", false, new Collector()) as RealtimeConfig,
);

/**
 * Merges `input` over the defaults and validates the result. Every problem is collected and
 * thrown at once as one `LolyError("INVALID_CONFIG")` whose message has one line per problem:
 * key path, what was expected and the bad value. Unknown keys are errors (with a "did you
 * mean"). Problems that do not stop start-up come back in `warnings`.
 *
 * `env` is read when called (default `process.env`): `NODE_ENV === "production"` is
 * production, where `allowedOrigins` must be a list and `logging.pretty` defaults to false.
 * Redis URLs fall back to `env.REDIS_URL` (to `process.env.REDIS_URL` when `env` has no
 * `REDIS_URL` key) and are resolved into the returned config.
 *
 * @example
 * const { config, warnings } = resolveConfig({ limits: { burst: 100 } });
 * for (const w of warnings) logger.warn(w);
 *
 * // throws: Invalid realtime config (2 problems):
 * //   - limits.burst: expected a number >= 1, got -3
 * //   - scale.adapter: required when scale.mode is "cluster" ...
 * resolveConfig({ limits: { burst: -3 }, scale: { mode: "cluster" } });
 */
export function resolveConfig(input: RealtimeConfigInput | undefined, env: ConfigEnv = process.env): ResolvedConfig {
  const production = env.NODE_ENV === "production";
  const envRedisUrl = "REDIS_URL" in env ? env.REDIS_URL : process.env.REDIS_URL;
  const out = new Collector();
  const warnings: string[] = [];
  const config = resolveNode(SCHEMA, input, "", production, out) as RealtimeConfig;
  const given = (isPlainObject(input) ? input : {}) as RealtimeConfigInput;

  if (production && !out.bad.has("allowedOrigins")) {
    if (given.allowedOrigins === undefined) {
      out.other(
        "allowedOrigins",
        `required in production (NODE_ENV=production): list the origins allowed to connect, e.g. [${ORIGIN_EXAMPLE}]`,
      );
    } else if (given.allowedOrigins === "*") {
      out.expected("allowedOrigins", `a list of origins like [${ORIGIN_EXAMPLE}] in production (NODE_ENV=production)`, "*");
    }
  }

  const { scale } = config;
  const cluster = scale.mode === "cluster" && !out.bad.has("scale.mode");
  const envUrlProblem = (path: string): void => {
    out.other(path, `REDIS_URL is ${formatValue(envRedisUrl)}: expected a Redis URL like "redis://localhost:6379" (redis:// or rediss://)`);
  };

  if (scale.adapter && !out.bad.has("scale.adapter") && scale.adapter.url === undefined && !out.bad.has("scale.adapter.url")) {
    if (envRedisUrl === undefined || envRedisUrl === "") {
      if (cluster) {
        out.other("scale.adapter.url", 'required: set scale.adapter.url (e.g. "redis://localhost:6379") or the REDIS_URL environment variable');
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
  if (store.type === "redis" && store.url === undefined && !out.bad.has("scale.stateStore.url")) {
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
        "presence, connection counts and ip/user limits still use Redis). Set scale.stateStore: { type: \"redis\" } (it uses scale.adapter.url) to share state across the cluster.",
    );
  }

  const { metrics } = config;
  if (metrics.enabled && !out.bad.has("metrics.path") && !out.bad.has("path")) {
    if (metrics.path === config.path || metrics.path.startsWith(`${config.path.replace(/\/$/, "")}/`)) {
      out.other(
        "metrics.path",
        `${formatValue(metrics.path)} collides with the Socket.IO path ${formatValue(config.path)}: choose a path outside it, e.g. "/metrics"`,
      );
    }
  }

  if (out.problems.length > 0) {
    const count = out.problems.length;
    const lines = out.problems.map((p) => `- ${p.path}: ${p.text}`);
    throw new LolyError(
      "INVALID_CONFIG",
      `Invalid realtime config (${count} problem${count === 1 ? "" : "s"}):\n${lines.join("\n")}`,
      { problems: out.problems.map((p) => ({ path: p.path, message: p.text })) },
    );
  }
  return { config, warnings, production };
}

/**
 * Every configuration key with its default and a description, in declaration order: the
 * source of the config reference in the docs.
 *
 * @example
 * describeConfig().find((k) => k.path === "limits.burst");
 * // { path: "limits.burst", type: "number >= 1", default: 60, description: "Capacity of ..." }
 */
export function describeConfig(): ConfigKeyDescription[] {
  const out: ConfigKeyDescription[] = [];
  const walk = (node: Group, base: string): void => {
    for (const [key, child] of Object.entries(node.keys)) {
      const path = join(base, key);
      if (child.kind === "group") {
        if (child.optional) out.push({ path, type: "object", default: undefined, description: child.description });
        walk(child, path);
        continue;
      }
      const entry: ConfigKeyDescription = {
        path,
        type: child.type,
        default: Array.isArray(child.default) ? [...child.default] : child.default,
        description: child.description,
      };
      if ("productionDefault" in child) entry.productionDefault = child.productionDefault;
      if (child.requiredInProduction) entry.requiredInProduction = true;
      out.push(entry);
    }
  };
  walk(SCHEMA, "");
  return out;
}
