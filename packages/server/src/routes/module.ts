import { LolyError, assertWssRouteDefinition, isWssRoute, type AnyWssRoute } from "@loly-rt/core";
import { ROUTE_BRAND } from "@loly-rt/core/internal";

const LEGACY_MESSAGE = "BREAKING CHANGE: `export const events = []` is no longer supported. Use `export default defineWssRoute({...})`.";

/** A start-up error about a route file. */
export function routeError(message: string, cause?: unknown): LolyError {
  return new LolyError("INVALID_ROUTE", message, undefined, cause === undefined ? undefined : { cause });
}

const isObject = (value: unknown): value is Record<PropertyKey, unknown> =>
  (typeof value === "object" && value !== null) || typeof value === "function";

/** The legacy `events = [{ name, handler }, ...]` list (an empty one too): no other `events` value. */
function isLegacyList(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  return value.length === 0 || value.some((entry) => isObject(entry) && ("handler" in entry || "name" in entry));
}

/** Turns one loaded module into a route, or throws the error that says what is wrong with the file. */
export function routeFromModule(mod: unknown, file: string): AnyWssRoute {
  const ns = isObject(mod) ? mod : {};
  // A CommonJS module transpiled from ESM arrives with its exports object as `default`.
  const cjsExports = isObject(ns.default) && ns.default.__esModule === true ? ns.default : undefined;
  // Its `default` is the route even when the exports object looks like one itself (`exports.events`
  // of `export const events = route.events` beside it).
  let def: unknown = ns.default;
  if (cjsExports !== undefined) def = cjsExports.default;
  else if (isObject(def) && !isWssRoute(def) && "default" in def && isWssRoute(def.default)) def = def.default;

  const layers = cjsExports ? [ns, cjsExports] : [ns];
  const named = layers.find((layer) => "events" in layer);
  const defEvents = isObject(def) ? def.events : undefined;
  const defIsRoute = isObject(def) && (def[ROUTE_BRAND] === true || (isObject(defEvents) && !Array.isArray(defEvents)));
  // A named `events` export is the legacy format when the default export is no route, or when
  // it is a legacy list itself (a half-migrated file: its handlers would be silently ignored).
  // Next to a route, anything else loads: the route's own `events` re-exported (`export const
  // events = route.events`, CommonJS named exports), a list of names, any unrelated value.
  const legacyNamed =
    named !== undefined && (defEvents === undefined || named.events !== defEvents) && (!defIsRoute || isLegacyList(named.events));
  const legacy = legacyNamed || (isObject(def) && def[ROUTE_BRAND] !== true && Array.isArray(defEvents));
  if (legacy) {
    throw routeError(`${LEGACY_MESSAGE}\n  File: ${file}\n  See docs/migration.md for the migration guide.`);
  }
  if (def === undefined || def === null) {
    throw routeError(
      `WSS route must export default from defineWssRoute(): ${file} has no default export.\n` +
        "  Add `export default defineWssRoute({ events: { ... } })`.",
    );
  }
  if (isObject(def) && def[ROUTE_BRAND] === true) return def as unknown as AnyWssRoute;
  try {
    assertWssRouteDefinition(def, "default export");
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw routeError(`Invalid WSS route in ${file}: ${detail}`, error);
  }
  // A plain-object route passed the same checks defineWssRoute runs: brand it like one.
  return Object.freeze({ ...(def as object), [ROUTE_BRAND]: true as const }) as AnyWssRoute;
}
