import { defineConfig, type Options } from "tsup";

type Plugin = NonNullable<Options["plugins"]>[number];

/**
 * In the CommonJS build, `import("@loly-rt/...")` (the server loads its Redis parts lazily)
 * becomes `require()`. Node would otherwise load the ES module builds of those packages, and a
 * second `@loly-rt/core` with them, next to the CommonJS ones a `require`-ing app already has
 * (two `LolyError` classes: `instanceof` fails across them). Other dynamic imports (route
 * files, tsx, optional CommonJS peers) stay `import()`.
 */
const requireSiblingsInCjs: Plugin = {
  name: "loly-require-siblings-in-cjs",
  renderChunk(code, info) {
    if (this.format !== "cjs" || !info.path.endsWith(".cjs")) return undefined;
    const next = code.replace(/\bimport\((["'])(@loly-rt\/[\w./-]+)\1\)/g, "Promise.resolve().then(() => require($1$2$1))");
    return next === code ? undefined : { code: next };
  },
};

/**
 * The one build config every package reuses: ESM + CJS with their own declarations
 * (.d.ts / .d.cts), every dependency external, sources mapped.
 */
export function packageConfig(entry: string[] = ["src/index.ts"], extra: Options = {}) {
  return defineConfig({
    entry,
    format: ["esm", "cjs"],
    dts: true,
    tsconfig: "tsconfig.build.json",
    sourcemap: true,
    clean: true,
    treeshake: true,
    splitting: false,
    target: "node20",
    shims: true,
    skipNodeModulesBundle: true,
    plugins: [requireSiblingsInCjs],
    ...extra,
  });
}
