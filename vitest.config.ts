import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const pkg = (p: string) => fileURLToPath(new URL(`./packages/${p}`, import.meta.url));

/** Tests resolve the workspace packages to their sources: no build is needed to test. */
export const workspaceAliases = [
  { find: /^@loly-rt\/core\/(testing|redis|internal|config)$/, replacement: pkg("core/src/$1/index.ts") },
  {
    find: /^@loly-rt\/(core|state-memory|state-redis|ratelimit|presence|adapter-redis|server|client)$/,
    replacement: pkg("$1/src/index.ts"),
  },
];

export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: {
    include: ["packages/*/src/**/*.test.ts", "tests/*/src/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    pool: "forks",
    testTimeout: 20_000,
    hookTimeout: 30_000,
    globalSetup: ["./tests/setup/global-redis.ts"],
    typecheck: {
      enabled: true,
      include: ["packages/*/src/**/*.test-d.ts", "tests/*/src/**/*.test-d.ts"],
      tsconfig: "./tsconfig.json",
    },
  },
});
