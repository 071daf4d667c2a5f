import { defineConfig, type Options } from "tsup";

/**
 * The one build config every package reuses: ESM + CJS with their own declarations
 * (.d.mts / .d.cts), every dependency external, sources mapped.
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
    ...extra,
  });
}
