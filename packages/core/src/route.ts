import type { AuthContext, EmitMap, WssConnectionContext, WssContext } from "./context.js";
import type { RateLimitCfg } from "./ratelimit.js";
import { isWssSchema, type InferSchemaInput, type InferSchemaOutput, type WssSchema } from "./schema.js";
import { LolyError } from "./errors.js";
import { RATE_LIMIT_BOUNDS, rateLimitProblems } from "./config/rate-limit.js";
import type { WssPresenceOptions } from "./presence.js";

/** An event handler. Its (awaited) return value answers the client's acknowledgement. */
export type WssHandler<TData = unknown, TUser = unknown, TResult = unknown, TEmits extends object = EmitMap> = (
  ctx: WssContext<TData, TUser, TEmits>,
) => TResult | Promise<TResult>;

/** A guard: runs after validation; `false` refuses the event with `FORBIDDEN`. */
export type GuardFn<TData = unknown, TUser = unknown, TEmits extends object = EmitMap> = (
  ctx: WssContext<TData, TUser, TEmits>,
) => boolean | Promise<boolean>;

/** The `auth` hook: returns the connection's user, `null` for anonymous; throwing refuses the connection. */
export type AuthFn<TUser> = (ctx: AuthContext) => TUser | null | undefined | Promise<TUser | null | undefined>;

/** A connection hook (`onConnect` / `onDisconnect`). */
export type ConnectionHook<TUser = unknown, TEmits extends object = EmitMap> = (
  ctx: WssConnectionContext<TUser, TEmits>,
) => void | Promise<void>;

/** What a route's `emits` holds: a schema per event the server sends. */
export type EmitSchemas = Record<string, WssSchema>;

/**
 * The payload of each event of an `emits` map: its schema's input type (the server sends the
 * value it was given; the schema checks it in development and transforms nothing).
 */
export type EmitPayloads<TEmits> = { [K in keyof TEmits]: InferSchemaInput<TEmits[K]> };

/** An event with options. */
export interface WssEventConfig<TSchema = undefined, TUser = unknown, TResult = unknown, TEmits extends object = EmitMap> {
  /** Validates (and may transform) the payload; `ctx.data` is its output. */
  schema?: TSchema;
  /** Runs after validation; `false` refuses with `FORBIDDEN`. */
  guard?: GuardFn<InferSchemaOutput<TSchema>, TUser, TEmits>;
  /** This event's own bucket (the global one applies too). */
  rateLimit?: RateLimitCfg;
  /** Refuse anonymous sockets with `UNAUTHORIZED`. @default false */
  requireAuth?: boolean;
  handler: WssHandler<InferSchemaOutput<TSchema>, TUser, TResult, TEmits>;
}

/** An event of a route: a bare handler or a {@link WssEventConfig}. */
export type WssEventEntry<TSchema = undefined, TUser = unknown, TResult = unknown, TEmits extends object = EmitMap> =
  | WssHandler<unknown, TUser, TResult, TEmits>
  | WssEventConfig<TSchema, TUser, TResult, TEmits>;

/**
 * What `defineWssRoute` accepts. `TSchemas` maps each event to its schema type, `TResults`
 * each event to its handler's result (before awaiting), `TEmits` each event the server sends
 * to its schema (`emits`; without it, any event), `TPresence` the `presence` option as written.
 */
export interface WssRouteDefinition<
  TUser = unknown,
  TSchemas extends Record<PropertyKey, unknown> = Record<string, unknown>,
  TResults extends Record<PropertyKey, unknown> = Record<string, unknown>,
  TEmits extends EmitSchemas = EmitSchemas,
  TPresence extends WssPresenceOptions | undefined = WssPresenceOptions | undefined,
> {
  /** Who is connecting. Runs once per connection, before `onConnect`. */
  auth?: AuthFn<TUser>;
  /** Refuse connections without a user (`connect_error` `UNAUTHORIZED`). @default false */
  requireAuth?: boolean;
  /**
   * The events the server sends to this namespace's clients, each with its payload schema.
   * Declared, every emit of `ctx.actions` is typed against it (an undeclared name or a wrong
   * payload is a compile error), each payload is checked in development (a mismatch is logged
   * as an error; nothing is checked in production), the client types `on()` from it and the
   * AsyncAPI document lists it. Without it, any event and payload.
   *
   * @example
   * emits: { said: z.object({ from: z.string(), text: z.string() }) }
   */
  emits?: TEmits;
  /**
   * Live presence: `{ broadcast: true }` pushes `__loly:presence` `{ room, joined }` /
   * `{ room, left }` to a room's members when a user's first socket joins it and when their
   * last one leaves it (cluster-wide, once per change, a stopped instance's users included),
   * and answers a member's `__loly:presence` request `{ room }` with `{ room, users }`.
   * See {@link WssPresenceOptions}.
   */
  presence?: TPresence & { [K in Exclude<keyof TPresence, keyof WssPresenceOptions>]: never };
  // `NoInfer`: the emits are inferred from `emits` alone, never from how handlers are typed.
  onConnect?: ConnectionHook<TUser, NoInfer<EmitPayloads<TEmits>>>;
  onDisconnect?: ConnectionHook<TUser, NoInfer<EmitPayloads<TEmits>>>;
  /**
   * The events, by name. The key union `keyof TSchemas | keyof TResults` is deliberate: it
   * makes TypeScript infer both maps from each entry (the schema first, then the handler's
   * result once `ctx` is typed from it), keeping `ctx` contextually typed.
   */
  events: { [K in keyof TSchemas | keyof TResults]: WssEventEntry<TSchemas[K], TUser, TResults[K], NoInfer<EmitPayloads<TEmits>>> };
}

export const ROUTE_BRAND: unique symbol = Symbol.for("loly-rt.route") as never;

/**
 * A route, as `defineWssRoute` returns it. The type parameters carry what the client infers:
 * `TUser` from `auth`, `TSchemas` the schema of each event, `TResults` what each handler
 * returns, `TEmits` the schema of each event the server sends, `TPresence` its `presence` option.
 */
export interface WssRoute<
  TUser = unknown,
  TSchemas extends Record<PropertyKey, unknown> = Record<string, unknown>,
  TResults extends Record<PropertyKey, unknown> = Record<string, unknown>,
  TEmits extends EmitSchemas = EmitSchemas,
  TPresence extends WssPresenceOptions | undefined = WssPresenceOptions | undefined,
> extends WssRouteDefinition<TUser, TSchemas, TResults, TEmits, TPresence> {
  readonly [ROUTE_BRAND]: true;
}

/** Any route. */
// biome-ignore lint/suspicious/noExplicitAny: the type every route is assignable to, whatever its user, schemas, results and emits
export type AnyWssRoute = WssRoute<any, any, any, any, any>;

/** Event names of a route (`string` for a route whose type is unknown). */
export type RouteEventName<R> = R extends WssRoute<infer _U, infer S, infer Res, infer _E> ? Extract<keyof S | keyof Res, string> : string;

/** Payload a client sends for event `E` (the schema's input type; `unknown` without schema). */
export type RouteEventInput<R, E extends string> =
  R extends WssRoute<infer _U, infer S, infer _Res, infer _E>
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
  R extends WssRoute<infer _U, infer _S, infer Res, infer _E>
    ? 0 extends 1 & Res
      ? unknown
      : E extends keyof Res
        ? Awaited<Res[E]>
        : never
    : unknown;

/** The user type of a route: what its `auth` hook returns, without `null` (`null` without `auth`). */
export type RouteUser<R> = R extends WssRoute<infer U, infer _S, infer _Res, infer _E> ? U : unknown;

/**
 * The events a route sends (name -> payload, the input type of each `emits` schema): what
 * `lolySocket<typeof route>()` types `on()` with. Any name and `unknown` payload for a route
 * without `emits`, or whose type is unknown.
 */
export type RouteEmits<R> =
  R extends WssRoute<infer _U, infer _S, infer _Res, infer E> ? (0 extends 1 & E ? EmitMap : EmitPayloads<E>) : EmitMap;

/**
 * `true` when the route pushes live presence (`presence: { broadcast: true }`), or when its
 * type is unknown; what makes `lolySocket<typeof route>().presence(room)` available.
 */
export type RoutePresenceBroadcast<R> =
  R extends WssRoute<infer _U, infer _S, infer Res, infer _E, infer P>
    ? 0 extends 1 & Res
      ? true
      : P extends { broadcast: true }
        ? true
        : false
    : true;

const ROUTE_KEYS = new Set(["auth", "requireAuth", "emits", "presence", "onConnect", "onDisconnect", "events"]);
const PRESENCE_KEYS = new Set(["broadcast"]);
const EVENT_KEYS = new Set(["schema", "guard", "rateLimit", "requireAuth", "handler"]);
const RATE_KEYS = new Set(["eventsPerSecond", "burst", "scope"]);
/** Event names socket.io reserves or Loly uses itself (and every `__loly:*` name). */
const RESERVED_EVENTS = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "disconnecting",
  "newListener",
  "removeListener",
  "__loly:error",
]);
/** Names a route may not send: socket.io-client's own events, and Loly's (`__loly:*`). */
const RESERVED_EMITS = new Set(["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]);

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

function checkPresence(where: string, value: unknown): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(where, "must be an object like { broadcast: true }");
  for (const [key, v] of Object.entries(value)) {
    if (!PRESENCE_KEYS.has(key)) fail(`${where}.${key}`, `unknown key; allowed: ${[...PRESENCE_KEYS].join(", ")}`);
    if (typeof v !== "boolean") fail(`${where}.${key}`, `must be a boolean (got ${JSON.stringify(v)})`);
  }
}

function checkEmits(where: string, emits: unknown): void {
  if (typeof emits !== "object" || emits === null || Array.isArray(emits)) {
    fail(where, "must be an object keyed by event name, like { said: z.object({ text: z.string() }) }");
  }
  for (const [name, schema] of Object.entries(emits)) {
    if (RESERVED_EMITS.has(name) || name.startsWith("__loly:"))
      fail(`${where}.${name}`, `"${name}" is reserved (Socket.IO's or Loly's); use another name`);
    if (!isWssSchema(schema))
      fail(`${where}.${name}`, "is not a schema: pass a Standard Schema (zod, valibot...) or an object with safeParse/parse");
  }
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
  if (d.emits !== undefined) checkEmits(`${label}.emits`, d.emits);
  if (d.presence !== undefined) checkPresence(`${label}.presence`, d.presence);
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
    if (RESERVED_EVENTS.has(name) || name.startsWith("__loly:"))
      fail(where, `"${name}" is reserved; use onConnect/onDisconnect or another name`);
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
 * `presence: { broadcast: true }` is kept in the route's type, so that the client offers
 * `presence(room)`.
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
  // Without `emits`, any event: the loose default.
  TEmits extends EmitSchemas = EmitSchemas,
  // The route's `presence` option as written (`{ broadcast: true }` keeps its literal for the client).
  TPresence extends WssPresenceOptions | undefined = undefined,
>(definition: WssRouteDefinition<TUser, TSchemas, TResults, TEmits, TPresence>): WssRoute<TUser, TSchemas, TResults, TEmits, TPresence> {
  assertWssRouteDefinition(definition);
  return Object.freeze(Object.assign({}, definition, { [ROUTE_BRAND]: true as const })) as WssRoute<
    TUser,
    TSchemas,
    TResults,
    TEmits,
    TPresence
  >;
}

/** True for a route from any copy of `@loly-rt/core` (brand), or any object shaped like one. */
export function isWssRoute(value: unknown): value is AnyWssRoute {
  if (typeof value !== "object" || value === null) return false;
  if ((value as Record<symbol, unknown>)[ROUTE_BRAND] === true) return true;
  const events = (value as { events?: unknown }).events;
  return typeof events === "object" && events !== null && !Array.isArray(events);
}
