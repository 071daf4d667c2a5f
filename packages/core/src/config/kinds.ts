/**
 * The kinds of configuration keys, as valibot schemas that carry their documentation: each
 * builder takes the default and the description and attaches them to the schema (`optional`
 * default, `description`, `metadata`), so the type, the defaults, the docs table and the
 * checks all come from the one declaration in `schema.ts`.
 *
 * Every schema and action is given its message: the words after "expected" in a problem
 * line (`limits.burst: expected a number >= 1, got -3`).
 */
import { isIP } from "node:net";
import * as v from "valibot";
import { isValidRateLimitValue, RATE_LIMIT_BOUNDS, type RateLimitNumberKey } from "./rate-limit.js";
import { canonicalOrigin, isPlainObject, isRedisUrl, ORIGIN_EXAMPLE, REDIS_URL_EXPECTED } from "./values.js";

/** What a key declares besides its schema, default and description. */
export type ConfigKeyMeta = {
  /** The accepted values, in words, e.g. `"integer >= 1"` (the docs table's column). */
  type: string;
  /** Default in production, where it differs from the default. */
  productionDefault?: unknown;
  /** True when production (NODE_ENV=production) requires the key. */
  requiredInProduction?: boolean;
};

/** Largest delay Node's timers take (anything above is clamped to 1 ms). */
export const MAX_TIMER_MS = 2_147_483_647;

const quoted = (values: readonly string[]): string => values.map((value) => JSON.stringify(value)).join(" | ");

/** A key: `check` for a given value, `def` when absent (a function for a fresh array each time). */
function key<const TCheck extends v.GenericSchema, const TDefault extends v.Default<TCheck, undefined>>(
  check: TCheck,
  def: TDefault,
  description: string,
  meta: ConfigKeyMeta,
) {
  return v.pipe(v.optional(check, def), v.description(description), v.metadata(meta));
}

/** A plain object of `entries` (unknown keys are the resolver's business: it lists every one). */
function object<const TEntries extends v.ObjectEntries>(entries: TEntries) {
  return v.pipe(v.custom<Record<string, unknown>>(isPlainObject, "an object"), v.object(entries));
}

/** A group of keys; absent means all its defaults. */
export function group<const TEntries extends v.ObjectEntries>(description: string, entries: TEntries) {
  return v.pipe(
    v.optional(object(entries), () => ({})),
    v.description(description),
  );
}

/** A group without a default: absent stays absent. */
export function optionalGroup<const TEntries extends v.ObjectEntries>(description: string, entries: TEntries) {
  return v.pipe(v.optional(object(entries)), v.description(description));
}

/** `true` or `false`, optionally with another default in production. */
export function bool<const TDefault extends boolean>(def: TDefault, description: string, productionDefault?: boolean) {
  const meta: ConfigKeyMeta = productionDefault === undefined ? { type: "boolean" } : { type: "boolean", productionDefault };
  return key(v.boolean("true or false"), def, description, meta);
}

/** One of a few strings. */
export function oneOf<const TValues extends readonly string[]>(values: TValues, def: TValues[number], description: string) {
  return key(v.picklist(values, `one of ${quoted(values)}`), def, description, { type: quoted(values) });
}

/** An integer >= min (and <= max when given); `unit` is added to the type text. */
export function integer(min: number, def: number, description: string, max = Infinity, unit = "") {
  const expected = max === Infinity ? `an integer >= ${min}` : `an integer between ${min} and ${max}`;
  const check = v.pipe(v.number(expected), v.integer(expected), v.minValue(min, expected), v.maxValue(max, expected));
  return key(check, def, description, { type: `${expected.replace(/^an /, "")}${unit}` });
}

/** Milliseconds fed to timers: an integer (Node clamps anything above 2^31-1 to 1ms). */
export function millis(min: number, def: number, description: string) {
  return integer(min, def, description, MAX_TIMER_MS, " (milliseconds)");
}

/** `eventsPerSecond` or `burst` of the global bucket: the rule every rate limit follows. */
export function rateLimitNumber(which: RateLimitNumberKey, def: number, description: string) {
  const expected = `a number ${RATE_LIMIT_BOUNDS[which]}`;
  const check = v.custom<number>((value) => isValidRateLimitValue(which, value), expected);
  return key(check, def, description, { type: expected.replace(/^a /, "") });
}

/** An HTTP path: starts with "/", no spaces, query or fragment. */
export function httpPath(def: string, description: string) {
  const expected = 'a URL path starting with "/" (no spaces, "?" or "#"), e.g. "/wss"';
  return key(v.pipe(v.string(expected), v.regex(/^\/[^\s?#]*$/, expected)), def, description, { type: 'string starting with "/"' });
}

/** An HTTP path without a default (absent: the feature that serves it is off); `example` is shown in the message. */
export function optionalHttpPath(description: string, example: string) {
  const expected = `a URL path starting with "/" (no spaces, "?" or "#"), e.g. ${JSON.stringify(example)}`;
  return v.pipe(
    v.optional(v.pipe(v.string(expected), v.regex(/^\/[^\s?#]*$/, expected))),
    v.description(description),
    v.metadata({ type: 'string starting with "/"' }),
  );
}

/** A Redis URL without a default (the resolver falls back to other URLs and `REDIS_URL`). */
export function redisUrl(description: string) {
  const check = v.pipe(
    v.string(REDIS_URL_EXPECTED),
    v.check((url) => isRedisUrl(url), REDIS_URL_EXPECTED),
  );
  return v.pipe(v.optional(check), v.description(description), v.metadata({ type: "redis:// or rediss:// URL" }));
}

/** A function without a default (code, not data: set in code, never from JSON or the environment). */
export function optionalFunction<TFunction extends (...args: never[]) => unknown>(description: string) {
  return v.pipe(
    v.optional(v.custom<TFunction>((value) => typeof value === "function", "a function")),
    v.description(description),
    v.metadata({ type: "function" }),
  );
}

/** Seed nodes of a Redis Cluster: a non-empty list of Redis URLs, without a default. */
export function redisSeeds(description: string) {
  const expected = 'a non-empty list of Redis URLs like ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"]';
  const check = v.pipe(
    v.custom<string[]>((value) => Array.isArray(value) && value.length > 0 && value.every((url) => isRedisUrl(url)), expected),
    v.transform((list) => [...list]),
  );
  return v.pipe(v.optional(check), v.description(description), v.metadata({ type: "redis:// URL[]" }));
}

/** A Redis Sentinel group: `{ sentinels: ["redis://host:26379", ...], name }`, without a default. */
export function sentinelGroup(description: string) {
  const expected = 'a Sentinel group like { sentinels: ["redis://10.0.0.1:26379"], name: "mymaster" }';
  const check = v.custom<{ sentinels: string[]; name: string }>(
    (value) =>
      isPlainObject(value) &&
      Object.keys(value).every((k) => k === "sentinels" || k === "name") &&
      Array.isArray(value.sentinels) &&
      value.sentinels.length > 0 &&
      value.sentinels.every((url: unknown) => isRedisUrl(url)) &&
      typeof value.name === "string" &&
      value.name !== "",
    expected,
  );
  return v.pipe(v.optional(check), v.description(description), v.metadata({ type: "{ sentinels: redis:// URL[], name }" }));
}

/** A TCP port without a default (absent: the feature that uses it is off); 0 takes any free port. */
export function optionalPort(description: string) {
  const expected = "an integer between 0 and 65535";
  const check = v.pipe(v.number(expected), v.integer(expected), v.minValue(0, expected), v.maxValue(65535, expected));
  return v.pipe(v.optional(check), v.description(description), v.metadata({ type: "integer between 0 and 65535" }));
}

/** Any non-empty string; `example` is shown in the message. */
export function nonEmptyString(def: string, description: string, example: string) {
  const expected = `a non-empty string, e.g. ${JSON.stringify(example)}`;
  return key(v.pipe(v.string(expected), v.nonEmpty(expected)), def, description, { type: "non-empty string" });
}

/** A non-empty list of `values` without repeats, reported as a whole. */
export function listOf<const TValues extends readonly string[]>(values: TValues, def: () => TValues[number][], description: string) {
  const expected = `a non-empty list of ${values.map((value) => JSON.stringify(value)).join(" and/or ")} (no repeats)`;
  const isList = (list: unknown): list is TValues[number][] =>
    Array.isArray(list) && list.length > 0 && list.every((item) => values.includes(item)) && new Set(list).size === list.length;
  const check = v.pipe(
    v.custom<TValues[number][]>(isList, expected),
    v.transform((list) => [...list]),
  );
  return key(check, def, description, { type: `(${quoted(values)})[]` });
}

/**
 * `"*"` or a non-empty list of origins, each reported at its index, canonicalized the way
 * browsers send them (lower case, no default port) and without repeats.
 */
export function origins(def: "*", description: string) {
  const check = v.pipe(
    v.custom<"*" | string[]>(
      (value) => value === "*" || (Array.isArray(value) && value.length > 0),
      `"*" or a non-empty list of origins like [${ORIGIN_EXAMPLE}]`,
    ),
    v.rawCheck(({ dataset, addIssue }) => {
      const list = dataset.value;
      if (!Array.isArray(list)) return;
      list.forEach((origin: unknown, index) => {
        const message =
          origin === "*"
            ? 'an origin; to allow any origin write allowedOrigins: "*" (not inside a list)'
            : canonicalOrigin(origin) === null
              ? `an origin like ${ORIGIN_EXAMPLE} (scheme://host[:port], no path, no trailing "/", no wildcard)`
              : undefined;
        if (message !== undefined)
          addIssue({ message, input: origin, path: [{ type: "array", origin: "value", input: list, key: index, value: origin }] });
      });
    }),
    v.transform((value) => (value === "*" ? "*" : [...new Set(value.map((origin) => canonicalOrigin(origin) as string))])),
  );
  return key(check, def, description, { type: '"*" | string[]', requiredInProduction: true });
}

/** The names `proxy-addr` (Express's `trust proxy`) accepts for address ranges. */
const PROXY_RANGE_NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);

/** An address, a CIDR (`10.0.0.0/8`, `fc00::/7`, `10.0.0.0/255.0.0.0`) or a range name, as `proxy-addr` takes them. */
function isTrustedProxy(value: unknown): boolean {
  if (typeof value !== "string") return false;
  if (PROXY_RANGE_NAMES.has(value) || isIP(value) !== 0) return true;
  const slash = value.indexOf("/");
  if (slash < 0) return false;
  const family = isIP(value.slice(0, slash));
  const range = value.slice(slash + 1);
  if (family === 4 && isIP(range) === 4) return true;
  return family !== 0 && /^\d{1,3}$/.test(range) && Number(range) <= (family === 4 ? 32 : 128);
}

/**
 * Which proxies to trust for `x-forwarded-for`, as Express's `trust proxy`: `false`, `true`
 * (every hop), a hop count, or a list of trusted proxy addresses, CIDRs and range names.
 */
export function trustedProxies(def: false, description: string) {
  const expected =
    'false, true, a hop count (an integer >= 1) or a non-empty list of proxy addresses/CIDRs (e.g. ["10.0.0.0/8", "loopback"])';
  const check = v.pipe(
    v.custom<boolean | number | string[]>(
      (value) =>
        typeof value === "boolean" ||
        (typeof value === "number" && Number.isInteger(value) && value >= 1) ||
        (Array.isArray(value) && value.length > 0),
      expected,
    ),
    v.rawCheck(({ dataset, addIssue }) => {
      const list = dataset.value;
      if (!Array.isArray(list)) return;
      list.forEach((entry: unknown, index) => {
        if (!isTrustedProxy(entry)) {
          const message = 'an IP address, a CIDR like "10.0.0.0/8" or one of "loopback", "linklocal", "uniquelocal"';
          addIssue({ message, input: entry, path: [{ type: "array", origin: "value", input: list, key: index, value: entry }] });
        }
      });
    }),
    v.transform((value) => (Array.isArray(value) ? [...value] : value)),
  );
  return key(check, def, description, { type: "boolean | integer >= 1 | string[]" });
}
