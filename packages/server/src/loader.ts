import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { LolyError, ROUTE_BRAND, assertWssRouteDefinition, isWssRoute, type AnyWssRoute } from "@loly-rt/core";
import { compileNamespace, namespaceFromRoutePath } from "./namespace.js";

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

const ROUTE_FILE = /^events\.(ts|mts|cts|js|mjs|cjs)$/;
const TS_FILE = /\.(ts|mts|cts)$/;
const LEGACY_MESSAGE =
  "BREAKING CHANGE: `export const events = []` is no longer supported. Use `export default defineWssRoute({...})`.";

function routeError(message: string, cause?: unknown): LolyError {
  return new LolyError("INVALID_ROUTE", message, undefined, cause === undefined ? undefined : { cause });
}

/** Every `events.*` file under `dir`, skipping `node_modules` and dot-folders. */
async function findRouteFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true });
    for (const entry of entries) {
      const full = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules" && !entry.name.startsWith(".")) await walk(full);
      } else if (ROUTE_FILE.test(entry.name) && (entry.isFile() || (entry.isSymbolicLink() && (await stat(full)).isFile()))) {
        found.push(full);
      }
    }
  };
  await walk(dir);
  return found.sort();
}

function findNearestTsconfig(from: string): string | undefined {
  let folder = from;
  for (;;) {
    const candidate = join(folder, "tsconfig.json");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(folder);
    if (parent === folder) return undefined;
    folder = parent;
  }
}

type TsImport = (specifier: string, options: { parentURL: string; tsconfig?: string | false }) => Promise<unknown>;
let tsImportPromise: Promise<TsImport> | undefined;

/** tsx is loaded only when there is a TypeScript route file. */
function loadTsImport(): Promise<TsImport> {
  tsImportPromise ??= import("tsx/esm/api").then((m) => m.tsImport as TsImport);
  return tsImportPromise;
}

/**
 * tsx's CommonJS hooks (used by `.cts` files and `require`) ignore tsImport's `tsconfig`
 * option and read TSX_TSCONFIG_PATH when tsImport registers them, synchronously; without
 * it they fall back to the tsconfig of the working directory.
 */
function withTsconfigEnv<T>(tsconfig: string | false | undefined, call: () => T): T {
  if (typeof tsconfig !== "string") return call();
  const saved = process.env.TSX_TSCONFIG_PATH;
  process.env.TSX_TSCONFIG_PATH = tsconfig;
  try {
    return call();
  } finally {
    if (saved === undefined) delete process.env.TSX_TSCONFIG_PATH;
    else process.env.TSX_TSCONFIG_PATH = saved;
  }
}

const isObject = (value: unknown): value is Record<PropertyKey, unknown> =>
  (typeof value === "object" && value !== null) || typeof value === "function";

/** Turns one loaded module into a route, or throws the error that says what is wrong with the file. */
function routeFromModule(mod: unknown, file: string): AnyWssRoute {
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

  const files = await findRouteFiles(root).catch((error: unknown) => {
    throw routeError(`Cannot read routesDir ${root}: ${error instanceof Error ? error.message : String(error)}`, error);
  });
  const planned: Array<{ namespace: string; file: string }> = [];
  const byShape = new Map<string, { namespace: string; file: string }>();
  for (const file of files) {
    const namespace = namespaceFromRoutePath(relative(root, dirname(file)));
    try {
      compileNamespace(namespace);
    } catch (error) {
      throw routeError(`${(error as Error).message} (from the folders of ${file})`, error);
    }
    // "/rooms/[id]" and "/rooms/[roomId]" match the same names: one namespace.
    const shape = namespace.replace(/\[[^\]/]*\]/g, "[]");
    const other = byShape.get(shape);
    if (other) {
      throw routeError(
        `Two route files for namespace ${JSON.stringify(namespace)}: ${other.file} and ${file}. Keep one events file per namespace.`,
      );
    }
    byShape.set(shape, { namespace, file });
    planned.push({ namespace, file });
  }
  planned.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));

  let tsconfig: string | false | undefined = options.tsconfig;
  let tsconfigResolved = tsconfig !== undefined || !!process.env.TSX_TSCONFIG_PATH;
  const loaded: LoadedRoute[] = [];
  for (const { namespace, file } of planned) {
    const url = pathToFileURL(file).href;
    let mod: unknown;
    try {
      if (TS_FILE.test(file)) {
        if (!tsconfigResolved) {
          tsconfig = findNearestTsconfig(root);
          tsconfigResolved = true;
        }
        const tsImport = await loadTsImport();
        mod = await withTsconfigEnv(tsconfig, () =>
          tsImport(url, tsconfig === undefined ? { parentURL: url } : { parentURL: url, tsconfig }),
        );
      } else {
        mod = await import(url);
      }
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw routeError(`Failed to load WSS route ${file}: ${detail}`, error);
    }
    loaded.push({ namespace, route: routeFromModule(mod, file), file });
  }
  return loaded;
}
