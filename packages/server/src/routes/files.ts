import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { routeError } from "./module.js";
import { compileNamespace, namespaceFromRoutePath } from "./namespace.js";

const ROUTE_FILE = /^events\.(ts|mts|cts|js|mjs|cjs)$/;

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

/** A route file and the namespace its folders name. */
export interface PlannedRoute {
  namespace: string;
  file: string;
}

/**
 * The route files of the directory `root` (absolute) with their namespaces, sorted by
 * namespace; throws for a folder name that is not a valid namespace and for two files of one
 * namespace.
 */
export async function planRouteFiles(root: string): Promise<PlannedRoute[]> {
  const files = await findRouteFiles(root).catch((error: unknown) => {
    throw routeError(`Cannot read routesDir ${root}: ${error instanceof Error ? error.message : String(error)}`, error);
  });
  const planned: PlannedRoute[] = [];
  const byShape = new Map<string, PlannedRoute>();
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
  return planned.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
}

/** The nearest `tsconfig.json` in `from` or a folder above it. */
export function findNearestTsconfig(from: string): string | undefined {
  let folder = from;
  for (;;) {
    const candidate = join(folder, "tsconfig.json");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(folder);
    if (parent === folder) return undefined;
    folder = parent;
  }
}
