import { LolyError, assertWssRouteDefinition, isWssRoute, type AnyWssRoute } from "@loly-rt/core";
import { ROUTE_BRAND } from "@loly-rt/core/internal";

const LEGACY_MESSAGE = "BREAKING CHANGE: `export const events = []` is no longer supported. Use `export default defineWssRoute({...})`.";

/** A start-up error about a route file. */
export function routeError(message: string, cause?: unknown): LolyError {
  return new LolyError("INVALID_ROUTE", message, undefined, cause === undefined ? undefined : { cause });
}

const isObject = (value: unknown): value is Record<PropertyKey, unknown> =>
  (typeof value === "object" && value !== null) || typeof value === "function";

/** Turns one loaded module into a route, or throws the error that says what is wrong with the file. */
export function routeFromModule(mod: unknown, file: string): AnyWssRoute {
  const ns = isObject(mod) ? mod : {};
  // A CommonJS module transpiled from ESM arrives with its exports object as `default`.
  const cjsExports = isObject(ns.default) && ns.default.__esModule === true ? ns.default : undefined;
  let def: unknown = ns.default;
  if (isObject(def) && !isWssRoute(def) && "default" in def && (cjsExports !== undefined || isWssRoute(def.default))) {
    def = def.default;
  }

  const layers = cjsExports ? [ns, cjsExports] : [ns];
  const legacyExport = layers.find((layer) => "events" in layer);
  const defEvents = isObject(def) ? def.events : undefined;
  // A route's own `events` re-exported (CommonJS named exports) is not the legacy format.
  const legacy =
    (legacyExport !== undefined && !(defEvents !== undefined && legacyExport.events === defEvents)) ||
    (isObject(def) && (def as Record<symbol, unknown>)[ROUTE_BRAND] !== true && Array.isArray(defEvents));
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
