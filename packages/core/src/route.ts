import type { AuthContext, WssConnectionContext, WssContext } from "./context.js";
import type { RateLimitCfg } from "./ratelimit.js";
import { isWssSchema, type InferSchemaInput, type InferSchemaOutput, type WssSchema } from "./schema.js";
import { LolyError } from "./errors.js";
import { RATE_LIMIT_BOUNDS, rateLimitProblems } from "./config/rate-limit.js";

/** An event handler. Its (awaited) return value answers the client's acknowledgement. */
export type WssHandler<TData = unknown, TUser = unknown, TResult = unknown> = (ctx: WssContext<TData, TUser>) => TResult | Promise<TResult>;

/** A guard: runs after validation; `false` refuses the event with `FORBIDDEN`. */
export type GuardFn<TData = unknown, TUser = unknown> = (ctx: WssContext<TData, TUser>) => boolean | Promise<boolean>;

/** The `auth` hook: returns the connection's user, `null` for anonymous; throwing refuses the connection. */
export type AuthFn<TUser> = (ctx: AuthContext) => TUser | null | undefined | Promise<TUser | null | undefined>;

/** A connection hook (`onConnect` / `onDisconnect`). */
export type ConnectionHook<TUser = unknown> = (ctx: WssConnectionContext<TUser>) => void | Promise<void>;

/** An event with options. */
export interface WssEventConfig<TSchema = undefined, TUser = unknown, TResult = unknown> {
  /** Validates (and may transform) the payload; `ctx.data` is its output. */
  schema?: TSchema;
  /** Runs after validation; `false` refuses with `FORBIDDEN`. */
  guard?: GuardFn<InferSchemaOutput<TSchema>, TUser>;
  /** This event's own bucket (the global one applies too). */
  rateLimit?: RateLimitCfg;
  /** Refuse anonymous sockets with `UNAUTHORIZED`. @default false */
  requireAuth?: boolean;
  handler: WssHandler<InferSchemaOutput<TSchema>, TUser, TResult>;
}

/** An event of a route: a bare handler or a {@link WssEventConfig}. */
export type WssEventEntry<TSchema = undefined, TUser = unknown, TResult = unknown> =
  | WssHandler<unknown, TUser, TResult>
  | WssEventConfig<TSchema, TUser, TResult>;

/**
 * What `defineWssRoute` accepts. `TSchemas` maps each event to its schema type, `TResults`
 * each event to its handler's result (before awaiting).
 */
export interface WssRouteDefinition<
  TUser = unknown,
  TSchemas extends Record<PropertyKey, unknown> = Record<string, unknown>,
  TResults extends Record<PropertyKey, unknown> = Record<string, unknown>,
> {
  /** Who is connecting. Runs once per connection, before `onConnect`. */
  auth?: AuthFn<TUser>;
  /** Refuse connections without a user (`connect_error` `UNAUTHORIZED`). @default false */
  requireAuth?: boolean;
  onConnect?: ConnectionHook<TUser>;
  onDisconnect?: ConnectionHook<TUser>;
  /**
   * The events, by name. The key union `keyof TSchemas | keyof TResults` is deliberate: it
   * makes TypeScript infer both maps from each entry (the schema first, then the handler's
   * result once `ctx` is typed from it), keeping `ctx` contextually typed.
   */
  events: { [K in keyof TSchemas | keyof TResults]: WssEventEntry<TSchemas[K], TUser, TResults[K]> };
}

export const ROUTE_BRAND: unique symbol = Symbol.for("loly-rt.route") as never;

/**
 * A route, as `defineWssRoute` returns it. The type parameters carry what the client infers:
 * `TUser` from `auth`, `TSchemas` the schema of each event, `TResults` what each handler returns.
 */
export interface WssRoute<
  TUser = unknown,
  TSchemas extends Record<PropertyKey, unknown> = Record<string, unknown>,
  TResults extends Record<PropertyKey, unknown> = Record<string, unknown>,
> extends WssRouteDefinition<TUser, TSchemas, TResults> {
  readonly [ROUTE_BRAND]: true;
}

/** Any route. */
// biome-ignore lint/suspicious/noExplicitAny: the type every route is assignable to, whatever its user, schemas and results
export type AnyWssRoute = WssRoute<any, any, any>;

/** Event names of a route (`string` for a route whose type is unknown). */
export type RouteEventName<R> = R extends WssRoute<infer _U, infer S, infer Res> ? Extract<keyof S | keyof Res, string> : string;

/** Payload a client sends for event `E` (the schema's input type; `unknown` without schema). */
export type RouteEventInput<R, E extends string> =
  R extends WssRoute<infer _U, infer S, infer _Res>
    ? E extends keyof S
      ? S[E] extends WssSchema
        ? InferSchemaInput<S[E]>
        : unknown
      : never
    : unknown;

/**
 * What a client's request for event `E` resolves with: the handler's awaited return
 * (`unknown` for a route whose type is unknown).
 */
export type RouteEventResult<R, E extends string> =
  R extends WssRoute<infer _U, infer _S, infer Res>
    ? 0 extends 1 & Res
      ? unknown
      : E extends keyof Res
        ? Awaited<Res[E]>
        : never
    : unknown;

/** The user type of a route: what its `auth` hook returns, without `null` (`null` without `auth`). */
export type RouteUser<R> = R extends WssRoute<infer U, infer _S, infer _Res> ? U : unknown;

const ROUTE_KEYS = new Set(["auth", "requireAuth", "onConnect", "onDisconnect", "events"]);
const EVENT_KEYS = new Set(["schema", "guard", "rateLimit", "requireAuth", "handler"]);
const RATE_KEYS = new Set(["eventsPerSecond", "burst", "scope"]);
/** Event names socket.io reserves or Loly uses itself. */
const RESERVED_EVENTS = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "disconnecting",
  "newListener",
  "removeListener",
  "__loly:error",
]);

function fail(where: string, message: string): never {
  throw new LolyError("INVALID_ROUTE", `defineWssRoute: ${where}: ${message}`);
}

function checkRateLimit(where: string, value: unknown): void {
  if (typeof value !== "object" || value === null) fail(where, "must be an object like { eventsPerSecond: 5, burst: 10 }");
  const cfg = value as Record<string, unknown>;
  for (const key of Object.keys(cfg)) {
    if (!RATE_KEYS.has(key)) fail(`${where}.${key}`, `unknown key; allowed: ${[...RATE_KEYS].join(", ")}`);
  }
  const [problem] = rateLimitProblems(cfg);
  if (problem === undefined) return;
  const { key } = problem;
  const must = key === "scope" ? '"socket", "ip" or "user"' : `a number ${RATE_LIMIT_BOUNDS[key]}`;
  fail(`${where}.${key}`, `must be ${must} (got ${JSON.stringify(problem.value)})`);
}

/**
 * Checks a route definition's structure; throws a `LolyError("INVALID_ROUTE")` naming the
 * bad key and the fix. Used by `defineWssRoute` and by the server's loader (for routes
 * written as plain objects).
 */
export function assertWssRouteDefinition(def: unknown, label = "route"): asserts def is WssRouteDefinition {
  if (typeof def !== "object" || def === null || Array.isArray(def)) {
    fail(label, 'expected an object like { events: { ping: (ctx) => "pong" } }');
  }
  const d = def as Record<string, unknown>;
  for (const key of Object.keys(d)) {
    if (!ROUTE_KEYS.has(key)) fail(`${label}.${key}`, `unknown key; allowed: ${[...ROUTE_KEYS].join(", ")}`);
  }
  for (const hook of ["auth", "onConnect", "onDisconnect"] as const) {
    if (d[hook] !== undefined && typeof d[hook] !== "function") fail(`${label}.${hook}`, "must be a function");
  }
  if (d.requireAuth !== undefined && typeof d.requireAuth !== "boolean") fail(`${label}.requireAuth`, "must be a boolean");
  if (d.requireAuth === true && d.auth === undefined) {
    fail(`${label}.requireAuth`, "needs an `auth` hook that returns the user (nobody could ever connect)");
  }
  const events = d.events;
  if (events === undefined) fail(`${label}.events`, "is required: add `events: {}` (it may be empty)");
  if (typeof events !== "object" || events === null || Array.isArray(events)) {
    fail(
      `${label}.events`,
      Array.isArray(events)
        ? "must be an object keyed by event name, not an array (the legacy `events = []` format is gone; see docs/migration.md)"
        : "must be an object keyed by event name",
    );
  }
  for (const [name, entry] of Object.entries(events as Record<string, unknown>)) {
    const where = `${label}.events.${name}`;
    if (RESERVED_EVENTS.has(name)) fail(where, `"${name}" is reserved; use onConnect/onDisconnect or another name`);
    if (typeof entry === "function") continue;
    if (typeof entry !== "object" || entry === null) fail(where, "must be a handler function or { handler, schema?, guard?, rateLimit? }");
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!EVENT_KEYS.has(key)) fail(`${where}.${key}`, `unknown key; allowed: ${[...EVENT_KEYS].join(", ")}`);
    }
    if (typeof e.handler !== "function") fail(`${where}.handler`, "must be a function (ctx) => result");
    if (e.guard !== undefined && typeof e.guard !== "function") fail(`${where}.guard`, "must be a function (ctx) => boolean");
    if (e.schema !== undefined && !isWssSchema(e.schema)) {
      fail(`${where}.schema`, "is not a schema: pass a Standard Schema (zod, valibot...) or an object with safeParse/parse");
    }
    if (e.rateLimit !== undefined) checkRateLimit(`${where}.rateLimit`, e.rateLimit);
    if (e.requireAuth !== undefined && typeof e.requireAuth !== "boolean") fail(`${where}.requireAuth`, "must be a boolean");
  }
}

/**
 * Defines a route (a namespace): its auth hook, connection hooks and events. Checks the
 * structure at once and keeps the types: `ctx.data` is each schema's output, `ctx.user`
 * what `auth` returns (`null` without `auth`), and the route's type records each event's
 * schema and handler result for `@loly-rt/client`.
 *
 * Write `auth` before `events`: TypeScript infers the user from `auth` in source order, so
 * an `auth: (ctx) => ...` written after handlers that read `ctx.user` is an error (unless
 * its return type is annotated).
 *
 * @example
 * export default defineWssRoute({
 *   auth: async ({ handshake }) => verify(handshake.auth.token),
 *   events: {
 *     ping: () => "pong",
 *     message: {
 *       schema: z.object({ text: z.string().max(500) }),
 *       handler: (ctx) => ctx.actions.toRoom("lobby").emit("message", ctx.data),
 *     },
 *   },
 * });
 */
export function defineWssRoute<
  // `null` without `auth` (ctx.user is then always null); not `never`, which no other user type is assignable to.
  TUser = null,
  // biome-ignore lint/complexity/noBannedTypes: an empty map is the default of an inferred one
  TSchemas extends Record<PropertyKey, unknown> = {},
  // biome-ignore lint/complexity/noBannedTypes: as above
  TResults extends Record<PropertyKey, unknown> = {},
>(definition: WssRouteDefinition<TUser, TSchemas, TResults>): WssRoute<TUser, TSchemas, TResults> {
  assertWssRouteDefinition(definition);
  return Object.freeze(Object.assign({}, definition, { [ROUTE_BRAND]: true as const })) as WssRoute<TUser, TSchemas, TResults>;
}

/** True for a route from any copy of `@loly-rt/core` (brand), or any object shaped like one. */
export function isWssRoute(value: unknown): value is AnyWssRoute {
  if (typeof value !== "object" || value === null) return false;
  if ((value as Record<symbol, unknown>)[ROUTE_BRAND] === true) return true;
  const events = (value as { events?: unknown }).events;
  return typeof events === "object" && events !== null && !Array.isArray(events);
}
