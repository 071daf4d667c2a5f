import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { AnyWssRoute } from "@loly-rt/core";
import { findNearestTsconfig, planRouteFiles } from "./files.js";
import { routeError, routeFromModule } from "./module.js";
import { typeScriptImporter } from "./ts-import.js";

/** A route loaded from a file. */
export interface LoadedRoute {
  /** The namespace pattern from the folder path, e.g. `"/"`, `"/chat"`, `"/rooms/[id]"`. */
  namespace: string;
  /** The file's route (branded, checked). */
  route: AnyWssRoute;
  /** Absolute path of the route file. */
  file: string;
}

/** Options of {@link loadRoutesDir}. */
export interface LoadRoutesOptions {
  /**
   * tsconfig used to load `.ts`/`.mts`/`.cts` route files (its `paths` resolve imports).
   * `false` ignores tsconfig files.
   * @default process.env.TSX_TSCONFIG_PATH when set, else the nearest tsconfig.json above the routes directory
   */
  tsconfig?: string | false;
}

const TS_FILE = /\.(ts|mts|cts)$/;

/**
 * Loads the route files of a directory: every `<dir>/**\/events.{ts,mts,cts,js,mjs,cjs}`
 * (skipping `node_modules` and dot-folders). The folder path relative to `dir` is the
 * namespace: `<dir>/events.ts` is `"/"`, `<dir>/chat/events.ts` is `"/chat"`, and a
 * `[param]` folder is a dynamic segment (`<dir>/rooms/[id]/events.ts` is `"/rooms/[id]"`).
 *
 * TypeScript files load without a build step (through tsx); JavaScript files with a native
 * `import()`. A route is recognised by its brand or its structure, never by module identity,
 * so files that resolve their own copy of `@loly-rt/core` load too.
 *
 * Start-up fails with a `LolyError("INVALID_ROUTE")` naming the file for: the legacy
 * `export const events = []` format, a missing default export, a default export that is not
 * a valid route, a file that throws or does not parse while loading (the original error is
 * the `cause`), a folder name that is not a valid namespace, and two files for one namespace.
 *
 * Results are sorted by namespace. A directory without route files gives `[]`.
 *
 * @example
 * // app/wss/chat/events.ts, app/wss/rooms/[id]/events.ts
 * const routes = await loadRoutesDir("app/wss");
 * // [{ namespace: "/chat", route, file }, { namespace: "/rooms/[id]", route, file }]
 */
export async function loadRoutesDir(dir: string, options: LoadRoutesOptions = {}): Promise<LoadedRoute[]> {
  const root = resolve(dir);
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw routeError(`routesDir ${JSON.stringify(dir)} ${info ? "is not a directory" : "does not exist"} (resolved to ${root})`);
  }

  const planned = await planRouteFiles(root);

  let tsconfig: string | false | undefined = options.tsconfig;
  let tsconfigResolved = tsconfig !== undefined || !!process.env.TSX_TSCONFIG_PATH;
  const loaded: LoadedRoute[] = [];
  for (const { namespace, file } of planned) {
    const url = pathToFileURL(file).href;
    const importTs = TS_FILE.test(file) ? await typeScriptImporter(file) : null;
    if (importTs && !tsconfigResolved) {
      tsconfig = findNearestTsconfig(root);
      tsconfigResolved = true;
    }
    let mod: unknown;
    try {
      mod = importTs ? await importTs(url, tsconfig) : await import(url);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw routeError(`Failed to load WSS route ${file}: ${detail}`, error);
    }
    loaded.push({ namespace, route: routeFromModule(mod, file), file });
  }
  return loaded;
}
