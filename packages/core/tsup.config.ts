import { packageConfig } from "../../tsup.base";

/**
 * Several entries, one copy of the code they share: with code splitting, `LolyError` (and all
 * else the subpath entries need of the root) lives in one shared chunk that every entry loads,
 * so an error made by `@loly-rt/core/internal` is `instanceof` the `LolyError` of
 * `@loly-rt/core`, in ESM and in CommonJS alike.
 */
export default packageConfig(
  ["src/index.ts", "src/testing/index.ts", "src/redis/index.ts", "src/internal/index.ts", "src/config/index.ts"],
  {
    splitting: true,
    esbuildOptions(options) {
      options.chunkNames = "shared/[name]-[hash]";
    },
  },
);
