import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LolyError, isWssRoute, type AnyWssRoute } from "@loly-rt/core";
import { ROUTE_BRAND, compileSchema } from "@loly-rt/core/internal";
import { afterAll, describe, expect, it } from "vitest";
import { loadRoutesDir } from "./load.js";

const FIXTURES = fileURLToPath(new URL("../../test-fixtures/", import.meta.url));
const fixture = (name: string): string => join(FIXTURES, name);

/** Calls a bare handler or a configured event's handler with a minimal context. */
function run(route: AnyWssRoute, event: string, ctx: Record<string, unknown> = {}): unknown {
  const entry = route.events[event] as unknown;
  const handler = typeof entry === "function" ? entry : (entry as { handler: (c: unknown) => unknown }).handler;
  return handler(ctx);
}

/** The INVALID_ROUTE error loading `dir` fails with. */
async function failureOf(dir: string, options?: Parameters<typeof loadRoutesDir>[1]): Promise<LolyError> {
  const error = await loadRoutesDir(dir, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(LolyError.is(error)).toBe(true);
  expect((error as LolyError).code).toBe("INVALID_ROUTE");
  return error as LolyError;
}

const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempRoutes(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "loly-routes-"));
  temps.push(dir);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

describe("loadRoutesDir: valid routes", () => {
  it("maps folders to namespaces: root, static, [param]; loads .ts and .mjs", async () => {
    const routes = await loadRoutesDir(fixture("valid"));
    expect(routes.map((r) => [r.namespace, r.file])).toEqual([
      ["/", join(FIXTURES, "valid", "events.ts")],
      ["/chat", join(FIXTURES, "valid", "chat", "events.ts")],
      ["/rooms/[id]", join(FIXTURES, "valid", "rooms", "[id]", "events.mjs")],
    ]);
    for (const { route } of routes) {
      expect(isWssRoute(route)).toBe(true);
      expect((route as unknown as Record<symbol, unknown>)[ROUTE_BRAND]).toBe(true);
    }
  });

  it("runs a TypeScript route that imports @loly-rt/core, zod and a .ts helper", async () => {
    const routes = await loadRoutesDir(fixture("valid"));
    const chat = routes.find((r) => r.namespace === "/chat")?.route as AnyWssRoute;
    expect(run(chat, "ping")).toBe("pong");
    const message = chat.events.message as { schema: unknown; rateLimit: unknown };
    expect(message.rateLimit).toEqual({ eventsPerSecond: 5, burst: 10 });
    // The zod schema from the file works with this copy of core's schema adapter.
    const validate = compileSchema(message.schema as never);
    expect(await validate({ text: "hi" })).toEqual({ ok: true, value: { text: "hi" } });
    expect((await validate({ text: 42 })).ok).toBe(false);
    expect(run(chat, "message", { data: { text: "hi" } })).toBe("HI");
    const root = routes.find((r) => r.namespace === "/")?.route as AnyWssRoute;
    expect(run(root, "hello")).toBe("welcome");
  });

  it("brands and freezes a plain-object route after checking it", async () => {
    const routes = await loadRoutesDir(fixture("valid"));
    const room = routes.find((r) => r.namespace === "/rooms/[id]")?.route as AnyWssRoute;
    expect(Object.isFrozen(room)).toBe(true);
    expect(run(room, "whereAmI", { params: { id: "42" } })).toBe("42");
  });

  it("loads .cjs (CommonJS default interop), .cts, .js and a route branded by another copy of core", async () => {
    const routes = await loadRoutesDir(fixture("interop"));
    expect(routes.map((r) => r.namespace)).toEqual(["/branded", "/cjs", "/cts", "/js"]);
    expect(routes.map((r) => run(r.route, "ping"))).toEqual(["branded", "cjs", "cts", "js"]);
    expect(routes.every((r) => isWssRoute(r.route))).toBe(true);
  });

  it("resolves @loly-rt/core through the routes' nearest tsconfig (also for .cts), whatever the working directory", async () => {
    const core = 'const { defineWssRoute } = require("@loly-rt/core");\n';
    const dir = await tempRoutes({
      "tsconfig.json": JSON.stringify({ extends: fileURLToPath(new URL("../../../../tsconfig.json", import.meta.url)) }),
      "events.cts": `${core}const n: number = 1;\nmodule.exports = { default: defineWssRoute({ events: { ping: () => n } }) };\n`,
      "chat/events.ts":
        'import { defineWssRoute } from "@loly-rt/core";\nexport default defineWssRoute({ events: { ping: (): string => "ts" } });\n',
    });
    const cwd = process.cwd();
    const saved = process.env.TSX_TSCONFIG_PATH;
    delete process.env.TSX_TSCONFIG_PATH;
    process.chdir(tmpdir());
    try {
      const routes = await loadRoutesDir(dir);
      expect(routes.map((r) => [r.namespace, run(r.route, "ping")])).toEqual([
        ["/", 1],
        ["/chat", "ts"],
      ]);
      expect(process.env.TSX_TSCONFIG_PATH).toBeUndefined();
    } finally {
      process.chdir(cwd);
      if (saved !== undefined) process.env.TSX_TSCONFIG_PATH = saved;
    }
  });

  it("uses the tsconfig it is given (false: no path mapping, so a mapped import does not resolve)", async () => {
    const error = await failureOf(fixture("mapped"), { tsconfig: false });
    expect(error.message).toContain(`Failed to load WSS route ${join(FIXTURES, "mapped", "events.ts")}`);
    expect(error.message).toContain("@loly-fixture/greeting");
    expect(error.cause).toBeInstanceOf(Error);
    const mapped = await loadRoutesDir(fixture("mapped"));
    expect(mapped.map((r) => r.namespace)).toEqual(["/"]);
    const explicit = await loadRoutesDir(fixture("valid"), { tsconfig: join(FIXTURES, "tsconfig.json") });
    expect(explicit).toHaveLength(3);
  });

  it("skips node_modules and dot-folders and ignores other files", async () => {
    const dir = await tempRoutes({
      "events.mjs": "export default { events: { ping: () => 'root' } };",
      "node_modules/pkg/events.mjs": "throw new Error('must not load');",
      ".cache/events.mjs": "throw new Error('must not load');",
      "chat/.hidden/events.mjs": "throw new Error('must not load');",
      "chat/events.test.mjs": "throw new Error('must not load');",
      "chat/helpers.mjs": "throw new Error('must not load');",
      "chat/events.json": "{}",
    });
    const routes = await loadRoutesDir(dir);
    expect(routes.map((r) => r.namespace)).toEqual(["/"]);
    expect(run(routes[0]?.route as AnyWssRoute, "ping")).toBe("root");
  });

  it("gives [] for a directory without route files", async () => {
    const dir = await tempRoutes({ "README.md": "no routes here" });
    expect(await loadRoutesDir(dir)).toEqual([]);
  });
});

describe("loadRoutesDir: a named `events` export", () => {
  /** A routes directory whose TypeScript files resolve @loly-rt/core through the workspace's tsconfig. */
  const withCore = (files: Record<string, string>): Promise<string> =>
    tempRoutes({
      "tsconfig.json": JSON.stringify({ extends: fileURLToPath(new URL("../../../../tsconfig.json", import.meta.url)) }),
      ...files,
    });
  const core = 'import { defineWssRoute } from "@loly-rt/core";\n';

  // The temporary folder has no package.json: its .ts files load as CommonJS, the .mts one as an ES module.
  it("loads next to a route when it is the route's own events, or unrelated (a list of names, an object, a number)", async () => {
    const dir = await withCore({
      "own/events.ts": `${core}const route = defineWssRoute({ events: { ping: () => "own" } });\nexport const events = route.events;\nexport default route;\n`,
      "own-esm/events.mts": `${core}const route = defineWssRoute({ events: { ping: () => "own-esm" } });\nexport const events = route.events;\nexport default route;\n`,
      "names/events.ts": `${core}export const events = ["created", "deleted"] as const;\nexport default defineWssRoute({ events: { ping: () => "names" } });\n`,
      "object/events.ts": `${core}export const events = { created: 1 };\nexport default defineWssRoute({ events: { ping: () => "object" } });\n`,
      "plain/events.mjs": 'export const events = 3;\nexport default { events: { ping: () => "plain" } };\n',
      "cjs/events.cts":
        'const { defineWssRoute } = require("@loly-rt/core");\nmodule.exports = { default: defineWssRoute({ events: { ping: () => "cjs" } }), events: ["created"] };\n',
    });
    const routes = await loadRoutesDir(dir);
    expect(routes.map((r) => [r.namespace, run(r.route, "ping")])).toEqual([
      ["/cjs", "cjs"],
      ["/names", "names"],
      ["/object", "object"],
      ["/own", "own"],
      ["/own-esm", "own-esm"],
      ["/plain", "plain"],
    ]);
  });

  it("is the legacy format when it is a legacy list (even an empty one) next to a route, or when no route is the default export", async () => {
    const cases = {
      "list-next-to-route/events.ts": `${core}export const events = [{ name: "ping", handler: () => "pong" }];\nexport default defineWssRoute({ events: { ping: () => "new" } });\n`,
      "empty-next-to-route/events.mjs": 'export const events = [];\nexport default { events: { ping: () => "new" } };\n',
      "names-without-default/events.mjs": 'export const events = ["created"];\n',
      "object-next-to-no-route/events.mjs": "export const events = { ping: () => 'pong' };\nexport default 42;\n",
    };
    for (const [path, source] of Object.entries(cases)) {
      const dir = await withCore({ [path]: source });
      const error = await failureOf(dir);
      expect(error.message.startsWith("BREAKING CHANGE: `export const events = []` is no longer supported."), path).toBe(true);
      expect(error.message, path).toContain(join(dir, path));
    }
  });
});

describe("loadRoutesDir: start-up errors", () => {
  it("legacy `export const events = []` (with a default export)", async () => {
    const error = await failureOf(fixture("legacy"));
    const file = join(FIXTURES, "legacy", "chat", "events.ts");
    expect(
      error.message.startsWith(
        "BREAKING CHANGE: `export const events = []` is no longer supported. Use `export default defineWssRoute({...})`.",
      ),
    ).toBe(true);
    expect(error.message).toContain(file);
    expect(error.message).toContain("See docs/migration.md");
  });

  it("legacy `export const events = []` without a default export gets the legacy message, not the no-default one", async () => {
    const error = await failureOf(fixture("legacy-no-default"));
    expect(error.message.startsWith("BREAKING CHANGE: `export const events = []` is no longer supported.")).toBe(true);
    expect(error.message).toContain(join(FIXTURES, "legacy-no-default", "chat", "events.ts"));
    expect(error.message).toContain("See docs/migration.md");
    expect(error.message).not.toContain("must export default");
  });

  it("legacy format in CommonJS", async () => {
    const dir = await tempRoutes({ "events.cjs": "exports.events = [{ name: 'ping', handler() {} }];" });
    const error = await failureOf(dir);
    expect(error.message.startsWith("BREAKING CHANGE:")).toBe(true);
    expect(error.message).toContain(join(dir, "events.cjs"));
  });

  it("no default export", async () => {
    const error = await failureOf(fixture("no-default"));
    expect(error.message).toContain("WSS route must export default from defineWssRoute()");
    expect(error.message).toContain(join(FIXTURES, "no-default", "events.ts"));
  });

  it("a syntax error names the file and keeps the original error as cause", async () => {
    const error = await failureOf(fixture("syntax-error"));
    const file = join(FIXTURES, "syntax-error", "events.ts");
    expect(error.message.startsWith(`Failed to load WSS route ${file}: `)).toBe(true);
    expect(error.cause).toBeInstanceOf(Error);
    expect(error.message).toContain((error.cause as Error).message.split("\n")[0]);
  });

  it("a file that throws while loading names the file and keeps the original error as cause", async () => {
    const error = await failureOf(fixture("throws"));
    expect(error.message).toBe(`Failed to load WSS route ${join(FIXTURES, "throws", "events.mjs")}: database not configured`);
    expect((error.cause as Error).message).toBe("database not configured");
  });

  it("a default export with a bad structure names the bad key and the file", async () => {
    const error = await failureOf(fixture("bad-structure"));
    expect(error.message).toContain(`Invalid WSS route in ${join(FIXTURES, "bad-structure", "events.ts")}`);
    expect(error.message).toContain("default export.events.ping.handler");
    expect(error.message).toContain("must be a function");
    expect(LolyError.is(error.cause)).toBe(true);
  });

  it("defineWssRoute rejecting the definition while loading (another copy of core) names the key and the file", async () => {
    const error = await failureOf(fixture("bad-define"));
    expect(error.message).toContain(`Failed to load WSS route ${join(FIXTURES, "bad-define", "events.ts")}`);
    expect(error.message).toContain("route.onConect: unknown key");
    expect(LolyError.is(error.cause)).toBe(true);
  });

  it("a default export that is not an object", async () => {
    const error = await failureOf(fixture("not-an-object"));
    expect(error.message).toContain(`Invalid WSS route in ${join(FIXTURES, "not-an-object", "events.mjs")}`);
    expect(error.message).toContain("expected an object");
  });

  it("two files for one namespace, before loading any", async () => {
    const error = await failureOf(fixture("duplicate"));
    expect(error.message).toBe(
      `Two route files for namespace "/chat": ${join(FIXTURES, "duplicate", "chat", "events.mjs")} and ${join(FIXTURES, "duplicate", "chat", "events.ts")}. Keep one events file per namespace.`,
    );
  });

  it("two dynamic folders that match the same names", async () => {
    const error = await failureOf(fixture("duplicate-dynamic"));
    expect(error.message).toContain('Two route files for namespace "/rooms/[roomId]"');
    expect(error.message).toContain(join(FIXTURES, "duplicate-dynamic", "rooms", "[id]", "events.mjs"));
  });

  it("a folder name that is not a valid namespace segment", async () => {
    const error = await failureOf(fixture("bad-folder"));
    expect(error.message).toContain('Invalid namespace "/rooms/[1d]"');
    expect(error.message).toContain(join(FIXTURES, "bad-folder", "rooms", "[1d]", "events.mjs"));
  });

  it("a routes directory that does not exist or is a file", async () => {
    const missing = await failureOf(fixture("no-such-dir"));
    expect(missing.message).toContain("does not exist");
    expect(missing.message).toContain(fixture("no-such-dir"));
    const file = await failureOf(join(FIXTURES, "README.md"));
    expect(file.message).toContain("is not a directory");
  });
});
