import { LolyError, assertWssRouteDefinition, isWssRoute, type AnyWssRoute } from "@loly-rt/core";
import { loadRoutesDir } from "./load.js";

/** A route and the namespace pattern it serves (with its file when it came from `routesDir`). */
export interface RouteEntry {
  pattern: string;
  route: AnyWssRoute;
  file?: string;
}

/**
 * The routes of a server, from code (`routes`) and from files (`routesDir`), checked: every
 * problem (not a route, an invalid one, a broken file, two routes for one namespace) fails
 * start-up here with `INVALID_ROUTE`.
 */
export async function collectRoutes(routes: Record<string, AnyWssRoute> | undefined, routesDir: string | undefined): Promise<RouteEntry[]> {
  const list: RouteEntry[] = [];
  for (const [pattern, route] of Object.entries(routes ?? {})) {
    if (!isWssRoute(route)) {
      throw new LolyError("INVALID_ROUTE", `routes["${pattern}"]: expected a route from defineWssRoute({...})`);
    }
    assertWssRouteDefinition(route, `routes["${pattern}"]`);
    list.push({ pattern, route });
  }
  if (routesDir) {
    for (const r of await loadRoutesDir(routesDir)) list.push({ pattern: r.namespace, route: r.route, file: r.file });
  }
  const seen = new Set<string>();
  for (const r of list) {
    if (seen.has(r.pattern)) throw new LolyError("INVALID_ROUTE", `two routes for namespace "${r.pattern}"${r.file ? ` (${r.file})` : ""}`);
    seen.add(r.pattern);
  }
  return list;
}
