/**
 * The packages as a user gets them from the registry.
 *
 * Builds every package (turbo, cached), packs each with `pnpm pack` (which rewrites
 * `workspace:^` to real versions), lints every tarball (publint --strict, arethetypeswrong with
 * the node16 profile), installs the tarballs with npm into a fresh app outside the workspace,
 * and there: runs a server and a client from an ES module and from a CommonJS script (in memory
 * and in cluster mode over Redis), type-checks against the packed declarations (node16 from ESM
 * and from CJS, bundler), bundles the client for a browser, and runs the store conformance suite
 * of `@loly-rt/core/testing` with the app's own vitest.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, redisUrl, testPrefix } from "../../setup/redis.js";
import { ROOT, buildAndPack, describeRun, expectSuccess, killChildren, outsideEnv, run, type Packed, type RunResult } from "./packing.js";

/** Every public entry point, with the package directory it lives in. */
const PACKAGES = ["core", "state-memory", "state-redis", "ratelimit", "presence", "adapter-redis", "server", "client"];
const ENTRIES = [...PACKAGES.map((p) => `@loly-rt/${p}`), "@loly-rt/core/testing"];
/** Core's subpath entries the server and its siblings load (helpers for the packages themselves). */
const CORE_SUBPATHS_LOADED = ["internal", "config", "redis"];
/** What a user imports first from each entry: it must be there in both module systems. */
const KEY_EXPORTS: Record<string, string> = {
  "@loly-rt/core": "defineWssRoute",
  "@loly-rt/state-memory": "createMemoryStateStore",
  "@loly-rt/state-redis": "createRedisStateStore",
  "@loly-rt/ratelimit": "createRedisRateLimitBackend",
  "@loly-rt/presence": "createRedisPresence",
  "@loly-rt/adapter-redis": "createRedisAdapter",
  "@loly-rt/server": "createRealtimeServer",
  "@loly-rt/client": "lolySocket",
};

/** The smoke run, shared by the ES module and the CommonJS script (each adds its imports). */
const SMOKE_BODY = `
const ENTRIES = ${JSON.stringify(ENTRIES.filter((e) => e !== "@loly-rt/core/testing"))};

const route = defineWssRoute({
  auth: ({ handshake }) => (typeof handshake.auth.token === "string" ? { id: handshake.auth.token } : null),
  events: {
    add: {
      schema: z.object({ a: z.number(), b: z.number() }),
      handler: (ctx) => ({ sum: ctx.data.a + ctx.data.b, user: ctx.user.id }),
    },
    hit: (ctx) => ctx.state.incr("hits"),
    refuse: () => {
      throw new LolyError("FORBIDDEN", "not here");
    },
  },
});

async function roundTrip(config) {
  const rt = await createRealtimeServer({ routes: { "/calc": route }, config });
  try {
    const port = await rt.listen(0, "127.0.0.1");
    const client = lolySocket("/calc", {
      url: "http://127.0.0.1:" + port,
      auth: { token: "ada" },
      transports: ["websocket"],
      reconnection: false,
    });
    try {
      await client.ready();
      const add = await client.request("add", { a: 2, b: 3 });
      const codeOf = (p) => p.then(() => "resolved", (err) => (LolyClientError.is(err) ? err.code : String(err)));
      const errors = [await codeOf(client.request("add", { a: "2" })), await codeOf(client.request("refuse"))];
      const hits = [await client.request("hit"), await client.request("hit")];
      return { add, errors, hits, health: rt.health() };
    } finally {
      client.close();
    }
  } finally {
    await rt.close();
  }
}

async function main() {
  const out = {};
  const logging = { level: "silent" };
  out.memory = await roundTrip({ logging });
  const url = process.env.LOLY_PACK_REDIS_URL;
  const prefix = process.env.LOLY_PACK_PREFIX;
  out.cluster = await roundTrip({
    logging,
    scale: { mode: "cluster", adapter: { type: "redis", url }, stateStore: { type: "redis", url, prefix } },
  });
  // Before the entries below are loaded one by one: what the server itself pulled in.
  out.required = requiredFiles();
  out.entries = {};
  for (const name of ENTRIES) out.entries[name] = { file: where(name), exports: (await exportsOf(name)).sort() };
  out.testing = where("@loly-rt/core/testing");
  console.log(JSON.stringify(out));
}
`;

const SMOKE_ESM = `import { createRealtimeServer } from "@loly-rt/server";
import { defineWssRoute, LolyError } from "@loly-rt/core";
import { LolyClientError, lolySocket } from "@loly-rt/client";
import { z } from "zod";

const where = (name) => import.meta.resolve(name);
const exportsOf = async (name) => Object.keys(await import(name));
const requiredFiles = () => [];
${SMOKE_BODY}
await main();
`;

const SMOKE_CJS = `"use strict";
const { createRealtimeServer } = require("@loly-rt/server");
const { defineWssRoute, LolyError } = require("@loly-rt/core");
const { LolyClientError, lolySocket } = require("@loly-rt/client");
const { z } = require("zod");

const where = (name) => require.resolve(name);
const exportsOf = async (name) => Object.keys(require(name));
const requiredFiles = () =>
  Object.keys(require.cache)
    .filter((file) => file.includes("node_modules/@loly-rt/"))
    .map((file) => file.slice(file.lastIndexOf("node_modules/") + "node_modules/".length));
${SMOKE_BODY}
main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
`;

/** Type-checked three times: as an ES module and as CommonJS (node16), and for a bundler. */
const TYPES_CHECK = `import { LolyError, defineWssRoute, type RealtimeStateStore } from "@loly-rt/core";
import { describeStoreConformance, type StoreFactory } from "@loly-rt/core/testing";
import { createRealtimeServer, type RealtimeServer } from "@loly-rt/server";
import { LolyClientError, lolySocket } from "@loly-rt/client";
import { createMemoryStateStore } from "@loly-rt/state-memory";
import { createRedisStateStore } from "@loly-rt/state-redis";
import { createMemoryRateLimitBackend } from "@loly-rt/ratelimit";
import { createMemoryPresence } from "@loly-rt/presence";
import { createRedisAdapter } from "@loly-rt/adapter-redis";
import { z } from "zod";

const route = defineWssRoute({
  auth: () => ({ id: "ada", admin: true }),
  events: {
    add: {
      schema: z.object({ a: z.number(), b: z.number() }),
      handler: (ctx) => ({ sum: ctx.data.a + ctx.data.b, admin: ctx.user?.admin ?? false }),
    },
  },
});

export async function check(): Promise<number> {
  const rt: RealtimeServer = await createRealtimeServer({ routes: { "/calc": route } });
  const factory: StoreFactory = () => createMemoryStateStore();
  const store: RealtimeStateStore = await factory();
  describeStoreConformance("memory", () => store);
  void [createRedisStateStore, createMemoryRateLimitBackend, createMemoryPresence, createRedisAdapter];
  const client = lolySocket<typeof route>("/calc", { url: "http://127.0.0.1:1" });
  const { sum, admin } = await client.request("add", { a: 1, b: 2 });
  const flag: boolean = admin;
  // @ts-expect-error: not an event of the route
  await client.request("nope", { a: 1, b: 2 });
  // @ts-expect-error: the payload does not match the schema
  await client.request("add", { a: "1", b: 2 });
  // @ts-expect-error: the result is a number
  const wrong: string = sum;
  void [flag, wrong];
  const err: unknown = new LolyError("FORBIDDEN", "no");
  if (LolyClientError.is(err)) void err.code;
  await rt.close();
  return sum;
}
`;

/** A page's script: the client and a type-only import of a route. */
const BROWSER_ROUTE = `import { defineWssRoute } from "@loly-rt/core";
export default defineWssRoute({ events: { ping: () => "pong" as const } });
`;
const BROWSER_ENTRY = `import { lolySocket } from "@loly-rt/client";
import type route from "./route";
export const calc = lolySocket<typeof route>("/calc", { url: "http://127.0.0.1:1", autoConnect: false });
`;
const BUNDLE = `import { build } from "esbuild";
const result = await build({
  entryPoints: ["browser/main.ts"],
  bundle: true,
  platform: "browser",
  format: "esm",
  write: false,
  metafile: true,
  logLevel: "error",
});
console.log(JSON.stringify({ inputs: Object.keys(result.metafile.inputs), bytes: result.outputFiles[0].contents.length }));
`;

const CONFORMANCE = `import { describeStoreConformance } from "@loly-rt/core/testing";
import { createMemoryStateStore } from "@loly-rt/state-memory";

describeStoreConformance("memory store from the packed packages", () => createMemoryStateStore());
`;

const tsconfig = (compilerOptions: Record<string, unknown>, files: string[]): string =>
  JSON.stringify(
    { compilerOptions: { target: "es2022", strict: true, noEmit: true, skipLibCheck: true, ...compilerOptions }, files },
    null,
    2,
  );

interface SmokeRound {
  add: unknown;
  errors: string[];
  hits: unknown[];
  health: { ok: boolean; details: Record<string, string> };
}

interface SmokeOutput {
  entries: Record<string, { file: string; exports: string[] }>;
  testing: string;
  memory: SmokeRound;
  cluster: SmokeRound;
  /** The @loly-rt files in the CommonJS module cache (empty for the ES module run). */
  required: string[];
}

describe("the packed packages", () => {
  let tmp = "";
  let app = "";
  let env: NodeJS.ProcessEnv = {};
  let packed: Packed[] = [];
  let install: PromiseSettledResult<RunResult>;
  let publintReport: PromiseSettledResult<string[]>;
  let attwReport: PromiseSettledResult<string[]>;
  const prefix = testPrefix("pack");
  const smoke: Record<"esm" | "cjs", SmokeOutput | undefined> = { esm: undefined, cjs: undefined };

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "loly-pack-"));
    // A clean clone has no dist/: build what is packed (turbo replays unchanged packages from its cache).
    ({ packed } = await buildAndPack(tmp));

    // The app: the tarballs, the peers a user installs, and the workspace's versions of them.
    const rootPkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
    const tsxPkg = JSON.parse(await readFile(join(ROOT, "node_modules/tsx/package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const range = (name: string): string => rootPkg.devDependencies[name] ?? "*";
    app = join(tmp, "app");
    await mkdir(join(app, "check"), { recursive: true });
    await mkdir(join(app, "browser"), { recursive: true });
    const appPkg = {
      name: "loly-pack-app",
      version: "0.0.0",
      private: true,
      dependencies: {
        ...Object.fromEntries(packed.map((p) => [p.name, `file:${p.filename}`])),
        "socket.io": range("socket.io"),
        "socket.io-client": range("socket.io-client"),
        ioredis: range("ioredis"),
        zod: range("zod"),
      },
      devDependencies: {
        "@types/node": range("@types/node"),
        esbuild: tsxPkg.dependencies.esbuild ?? "*",
        vitest: range("vitest"),
      },
    };
    await Promise.all([
      writeFile(join(app, "package.json"), JSON.stringify(appPkg, null, 2)),
      writeFile(join(app, "smoke.mjs"), SMOKE_ESM),
      writeFile(join(app, "smoke.cjs"), SMOKE_CJS),
      writeFile(join(app, "check/check.mts"), TYPES_CHECK),
      writeFile(join(app, "check/check.cts"), TYPES_CHECK),
      writeFile(join(app, "check/check.ts"), TYPES_CHECK),
      writeFile(
        join(app, "tsconfig.node16.json"),
        tsconfig({ module: "node16", moduleResolution: "node16", lib: ["es2022"], types: ["node"] }, [
          "check/check.mts",
          "check/check.cts",
        ]),
      ),
      writeFile(
        join(app, "tsconfig.bundler.json"),
        tsconfig({ module: "esnext", moduleResolution: "bundler", lib: ["es2022", "dom"], types: [] }, ["check/check.ts"]),
      ),
      writeFile(join(app, "browser/route.ts"), BROWSER_ROUTE),
      writeFile(join(app, "browser/main.ts"), BROWSER_ENTRY),
      writeFile(join(app, "bundle.mjs"), BUNDLE),
      writeFile(join(app, "store.test.mjs"), CONFORMANCE),
    ]);
    env = outsideEnv({ LOLY_PACK_REDIS_URL: redisUrl() });

    // The install waits on the network; lint the tarballs meanwhile.
    [install, publintReport, attwReport] = await Promise.allSettled([
      run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: app, env, timeoutMs: 150_000 }),
      lintWithPublint(packed),
      lintWithAttw(packed, env),
    ]);
  }, 300_000);

  afterAll(async () => {
    killChildren();
    await deleteKeys(prefix);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("packs all eight packages, each with ESM, CJS, both declarations, its README and LICENSE, and nothing else", async () => {
    expect(packed.map((p) => p.name).sort()).toEqual(PACKAGES.map((p) => `@loly-rt/${p}`).sort());
    for (const { name, filename } of packed) {
      const listing = await run("tar", ["-tzf", filename], { cwd: tmp, env, timeoutMs: 10_000 });
      expectSuccess("tar", listing);
      const files = listing.stdout.trim().split("\n");
      for (const f of ["dist/index.js", "dist/index.cjs", "dist/index.d.ts", "dist/index.d.cts", "README.md", "LICENSE", "package.json"]) {
        expect(files, name).toContain(`package/${f}`);
      }
      expect(
        files.filter((f) => !f.startsWith("package/dist/") && !/^package\/(README\.md|LICENSE|package\.json)$/.test(f)),
        name,
      ).toEqual([]);
      expect(
        files.filter((f) => /\.test(-d)?\.|fixtures|testing\/redis-server/.test(f)),
        name,
      ).toEqual([]);
    }
  });

  it("pnpm pack replaces workspace:^ with the released version", async () => {
    const manifest = await run("tar", ["-xzOf", packed.find((p) => p.name === "@loly-rt/server")!.filename, "package/package.json"], {
      cwd: tmp,
      env,
      timeoutMs: 10_000,
    });
    expectSuccess("tar", manifest);
    const pkg = JSON.parse(manifest.stdout) as { version: string; dependencies: Record<string, string> };
    expect(pkg.dependencies["@loly-rt/core"]).toBe(`^${pkg.version}`);
    expect(JSON.stringify(pkg)).not.toContain("workspace:");
  });

  it("publint --strict finds nothing in any tarball", () => {
    if (publintReport.status === "rejected") throw publintReport.reason;
    expect(publintReport.value).toEqual([]);
  });

  it("arethetypeswrong (node16 from ESM and CJS, bundler) finds nothing in any tarball", () => {
    if (attwReport.status === "rejected") throw attwReport.reason;
    expect(attwReport.value).toEqual([]);
  });

  it("npm installs the tarballs into a fresh app outside the workspace", () => {
    if (install.status === "rejected") throw install.reason;
    expectSuccess("npm install", install.value);
  });

  for (const kind of ["esm", "cjs"] as const) {
    it(`${kind === "esm" ? "an ES module" : "a CommonJS script"} runs a server and a client from the tarballs and exits`, async () => {
      const script = kind === "esm" ? "smoke.mjs" : "smoke.cjs";
      const r = await run(process.execPath, [script], {
        cwd: app,
        env: { ...env, LOLY_PACK_PREFIX: `${prefix}${kind}:` },
        timeoutMs: 30_000,
      });
      expectSuccess(`node ${script}`, r);
      const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as SmokeOutput;
      smoke[kind] = out;

      const ext = kind === "esm" ? ".js" : ".cjs";
      for (const [name, entry] of Object.entries(out.entries)) {
        expect(entry.file, name).toMatch(new RegExp(`node_modules/${name}/dist/index\\${ext}$`));
        expect(entry.exports, name).toContain(KEY_EXPORTS[name]);
      }
      expect(out.testing).toMatch(new RegExp(`node_modules/@loly-rt/core/dist/testing/index\\${ext}$`));

      for (const round of [out.memory, out.cluster]) {
        expect(round.add).toEqual({ sum: 5, user: "ada" });
        expect(round.errors).toEqual(["BAD_PAYLOAD", "FORBIDDEN"]);
        expect(round.hits).toEqual([1, 2]);
        expect(round.health.ok).toBe(true);
      }
      expect(out.memory.health.details).toEqual({});
      expect(Object.keys(out.cluster.health.details).sort()).toEqual(["command", "pub", "sub"]);
      if (kind === "cjs") {
        // The Redis parts the server loads lazily in cluster mode come as CommonJS too (not as
        // ES modules with a second @loly-rt/core): one copy of each package.
        // Core's subpath entries share its code through chunks (one LolyError in the process).
        const chunk = /^@loly-rt\/core\/dist\/shared\/chunk-[A-Z0-9]+\.cjs$/;
        expect(out.required.filter((f) => !chunk.test(f)).sort()).toEqual(
          [
            ...PACKAGES.map((p) => `@loly-rt/${p}/dist/index.cjs`),
            ...CORE_SUBPATHS_LOADED.map((s) => `@loly-rt/core/dist/${s}/index.cjs`),
          ].sort(),
        );
        expect(out.required.filter((f) => chunk.test(f)).length).toBeGreaterThan(0);
      }
    });
  }

  it("ESM and CommonJS export the same names from every entry", () => {
    expect(smoke.esm, "the ES module run").toBeDefined();
    expect(smoke.cjs, "the CommonJS run").toBeDefined();
    for (const name of Object.keys(KEY_EXPORTS)) expect(smoke.cjs!.entries[name]!.exports, name).toEqual(smoke.esm!.entries[name]!.exports);
  });

  it("type-checks against the packed declarations: node16 (ESM and CJS) and bundler", async () => {
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    const [node16, bundler] = await Promise.all(
      ["tsconfig.node16.json", "tsconfig.bundler.json"].map((p) =>
        run(process.execPath, [tsc, "-p", p], { cwd: app, env, timeoutMs: 60_000 }),
      ),
    );
    expectSuccess("tsc -p tsconfig.node16.json", node16!);
    expectSuccess("tsc -p tsconfig.bundler.json", bundler!);
  });

  it("bundles the client for a browser without server code or Node built-ins", async () => {
    const r = await run(process.execPath, ["bundle.mjs"], { cwd: app, env, timeoutMs: 30_000 });
    expectSuccess("esbuild", r);
    const { inputs } = JSON.parse(r.stdout) as { inputs: string[] };
    expect(inputs).toContain("node_modules/@loly-rt/client/dist/index.js");
    expect(inputs.filter((i) => /@loly-rt\/(?!client\/)|node_modules\/(socket\.io|ioredis|pino|ws)\//.test(i))).toEqual([]);
  });

  it("runs the store conformance suite of @loly-rt/core/testing with the app's vitest", async () => {
    const r = await run(process.execPath, [join(app, "node_modules/vitest/vitest.mjs"), "run", "--reporter=dot"], {
      cwd: app,
      env,
      timeoutMs: 60_000,
    });
    expectSuccess("vitest run", r);
    expect(r.stdout).toMatch(/Tests\s+\d+ passed/);
    expect(r.stdout).not.toMatch(/failed|skipped/);
  });
});

/** publint --strict on each tarball: every message (error, warning, suggestion), formatted. */
async function lintWithPublint(packed: Packed[]): Promise<string[]> {
  const found: string[] = [];
  for (const { name, filename } of packed) {
    const data = await readFile(filename);
    const tarball = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
    const { messages, pkg } = await publint({ pack: { tarball }, strict: true });
    for (const m of messages) found.push(`${name}: ${m.type}: ${formatMessage(m, pkg) ?? m.code}`);
  }
  return found;
}

/** arethetypeswrong with the node16 profile on each tarball, two at a time. */
async function lintWithAttw(packed: Packed[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const cliDir = join(ROOT, "node_modules/@arethetypeswrong/cli");
  const cliPkg = JSON.parse(await readFile(join(cliDir, "package.json"), "utf8")) as { bin: Record<string, string> };
  const attw = join(cliDir, cliPkg.bin.attw!);
  const found: string[] = [];
  const queue = [...packed];
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const r = await run(process.execPath, [attw, next.filename, "--profile", "node16", "--format", "json"], {
        cwd: ROOT,
        env,
        timeoutMs: 60_000,
      });
      if (r.code === 0) continue;
      let problems = "";
      try {
        problems = JSON.stringify((JSON.parse(r.stdout) as { problems?: unknown }).problems ?? null);
      } catch {
        problems = describeRun("attw", r);
      }
      found.push(`${next.name}: ${problems}`);
    }
  };
  await Promise.all([worker(), worker()]);
  return found;
}
