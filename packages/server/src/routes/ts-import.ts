import { LolyError } from "@loly-rt/core";

type TsImport = (specifier: string, options: { parentURL: string; tsconfig?: string | false }) => Promise<unknown>;
let tsImportPromise: Promise<TsImport> | undefined;

/**
 * tsx's `tsImport`, loaded only when there is a TypeScript route file. tsx is an optional peer
 * dependency: an app whose routes are JavaScript never installs it.
 */
function loadTsImport(file: string): Promise<TsImport> {
  tsImportPromise ??= import("tsx/esm/api").then(
    (m) => m.tsImport as TsImport,
    (err: unknown) => {
      tsImportPromise = undefined;
      throw new LolyError(
        "INVALID_ROUTE",
        `${file} is a TypeScript route file, and loading it needs the \`tsx\` package, which is not installed: npm install tsx (or build the routes to .js)`,
        undefined,
        { cause: err },
      );
    },
  );
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

/** Imports a TypeScript file by its `url` through tsx with `tsconfig` (`undefined`: tsx's own lookup). */
export type TypeScriptImporter = (url: string, tsconfig: string | false | undefined) => Promise<unknown>;

/** The importer of TypeScript route files; rejects with a clear `INVALID_ROUTE` naming `file` when tsx is not installed. */
export async function typeScriptImporter(file: string): Promise<TypeScriptImporter> {
  const tsImport = await loadTsImport(file);
  return (url, tsconfig) =>
    withTsconfigEnv(tsconfig, () => tsImport(url, tsconfig === undefined ? { parentURL: url } : { parentURL: url, tsconfig }));
}
