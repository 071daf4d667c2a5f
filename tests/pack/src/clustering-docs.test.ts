/**
 * docs/clustering.md, followed literally after docs/getting-started.md in an empty folder
 * outside the workspace: the project of getting started (its Install section's `npm` lines and
 * every file it shows), then the `npm` lines of the clustering page's "What you need" and the
 * files it shows (same convention: a `ts` block whose first line is `// <path>` is a file,
 * saved as shown). The page's "Configuration" section says how to start two instances and the
 * client (`REDIS_URL=... PORT=3001 npx tsx cluster.ts`, ...): the test runs those lines, with
 * their variables, and checks that a room broadcast from the instance of port 3001 reaches
 * the client on the instance of port 3002, that presence and `ctx.state` are in Redis, then
 * stops both instances with SIGTERM (to each server's process, as a process manager sends it).
 *
 * Three things differ from a person at a terminal, none of them in the files:
 * - `REDIS_URL` is the suite's Redis (`process.env.REDIS_URL`, set by tests/setup), when the
 *   page's value is not it.
 * - `CLUSTER_PREFIX`, which the page documents, is set to a prefix of this run, so the run
 *   shares nothing with another cluster on that Redis; its keys are deleted at the end
 *   (`SCAN MATCH <prefix>*` + `DEL`, through the `ioredis` the page installed; never a FLUSH).
 * - Ports 3001 and 3002 are moved to free ones by a preloaded module (`--import`), for the
 *   servers' listen and the client's connections alike, as getting-started.test.ts does for 3000.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PORT_PRELOAD, freePort, pageFiles, type Running, servers, start } from "./docs-pages.js";
import { ROOT, buildAndPack, describeRun, expectSuccess, killChildren, killGroup, outsideEnv, run, type Packed } from "./packing.js";

const GETTING_STARTED = join(ROOT, "docs/getting-started.md");
const CLUSTERING = join(ROOT, "docs/clustering.md");
/** The ports the clustering page uses, each moved to a free one. */
const PAGE_PORTS = [3001, 3002] as const;
/** The text of a `## ` section of a page (empty when the page has none). */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) return "";
  const rest = markdown.slice(start + heading.length + 5);
  const next = rest.search(/\n## /);
  return next < 0 ? rest : rest.slice(0, next);
}

/** The command lines of a section's `sh` blocks, as words, comments dropped (blocks may be indented in a list). */
function shellLines(text: string): string[][] {
  const lines: string[][] = [];
  for (const [, block] of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of (block as string).split("\n")) {
      const words = line.replace(/#.*$/, "").trim().split(/\s+/).filter(Boolean);
      if (words.length > 0) lines.push(words);
    }
  }
  return lines;
}

/** A command line's leading `NAME=value` words as variables, and the command after them. */
function withVariables(words: string[]): { vars: Record<string, string>; command: string[] } {
  const vars: Record<string, string> = {};
  let i = 0;
  for (; i < words.length; i++) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(words[i] as string);
    if (!m) break;
    vars[m[1] as string] = m[2] as string;
  }
  return { vars, command: words.slice(i) };
}

/**
 * Stops a server as a process manager does: SIGTERM to the server's own process (its pid is in
 * its log lines; npx and tsx in front of it pass its exit code on). SIGKILL to the whole group
 * after 10 s. Resolves the exit code, null when it had to be killed.
 */
async function stop(server: Running): Promise<number | null> {
  const pid = Number(/"pid":(\d+)/.exec(server.output())?.[1]);
  let killed = false;
  if (pid > 0) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  } else killGroup(server.child, "SIGTERM");
  const timer = setTimeout(() => {
    killed = true;
    killGroup(server.child);
  }, 10_000);
  const code = await server.exited;
  clearTimeout(timer);
  return killed ? null : code;
}

/** The slice of ioredis this test uses (the app's own copy, installed by the page). */
interface RedisLike {
  scan(cursor: string, match: "MATCH", pattern: string, count: "COUNT", n: number): Promise<[string, string[]]>;
  del(...keys: string[]): Promise<number>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  quit(): Promise<unknown>;
}

describe("docs/clustering.md, followed after getting started in the same folder", () => {
  let tmp = "";
  let app = "";
  let env: NodeJS.ProcessEnv = {};
  let files = new Map<string, string>();
  /** The page's lines that start the instances and the client. */
  let runLines: Array<{ vars: Record<string, string>; command: string[] }> = [];
  const prefix = `loly-docs-cluster-${randomBytes(4).toString("hex")}:`;
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  let redis: RedisLike | undefined;

  /** The keys under this run's prefix. */
  async function keys(): Promise<string[]> {
    const found: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await redis!.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      found.push(...batch);
      cursor = next;
    } while (cursor !== "0");
    return found;
  }

  beforeAll(async () => {
    if (process.env.LOLY_REDIS_MISSING) throw new Error(process.env.LOLY_REDIS_MISSING);
    const started = await readFile(GETTING_STARTED, "utf8");
    const clustering = await readFile(CLUSTERING, "utf8");
    const clusterFiles = pageFiles("docs/clustering.md", clustering);
    files = new Map([...pageFiles("docs/getting-started.md", started), ...clusterFiles]);
    const npmLines = [
      ...shellLines(section(started, "Install")).filter((w) => w[0] === "npm"),
      ...shellLines(section(clustering, "What you need")).filter((w) => w[0] === "npm"),
    ];
    runLines = shellLines(section(clustering, "Configuration")).map(withVariables);

    tmp = await mkdtemp(join(tmpdir(), "loly-clustering-docs-"));
    app = join(tmp, "my-app");
    await mkdir(app);
    const preload = join(tmp, "page-ports.mjs");
    await writeFile(preload, PORT_PRELOAD);
    const { packed } = await buildAndPack(tmp);
    const ports = await Promise.all(PAGE_PORTS.map(async (p) => `${p}=${await freePort()}`));
    env = outsideEnv({
      LOLY_DOCS_PORTS: ports.join(","),
      NODE_OPTIONS: `--import ${pathToFileURL(preload).href}`,
      npm_config_update_notifier: "false",
      npm_config_fund: "false",
      npm_config_audit: "false",
    });

    const tarballOf = (name: string): Packed | undefined => packed.find((p) => p.name === name);
    const named = new Set(npmLines.flat().filter((w) => w.startsWith("@loly-rt/")));
    let siblingsAdded = false;
    for (const words of npmLines) {
      let args = words.slice(1).map((w) => (w.startsWith("@loly-rt/") ? (tarballOf(w)?.filename ?? w) : w));
      if (words[1] === "install" && !siblingsAdded && words.some((w) => w.startsWith("@loly-rt/"))) {
        // What the registry would bring with them: the other packages, at the same version.
        args = [...args, ...packed.filter((p) => !named.has(p.name)).map((p) => p.filename)];
        siblingsAdded = true;
      }
      const r = await run("npm", [...args, "--loglevel=error"], { cwd: app, env, timeoutMs: 120_000 });
      expectSuccess(words.join(" "), r);
    }
    for (const [path, body] of files) {
      await mkdir(dirname(join(app, path)), { recursive: true });
      await writeFile(join(app, path), body);
    }
    const Redis = createRequire(join(app, "package.json"))("ioredis") as new (url: string) => RedisLike;
    redis = new Redis(redisUrl);
  }, 300_000);

  afterAll(async () => {
    for (const child of servers) killGroup(child);
    killChildren();
    if (redis) {
      const mine = await keys();
      if (mine.length > 0) await redis.del(...mine);
      await redis.quit();
    }
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("shows the cluster server and its client as files, and installs ioredis next to the server", async () => {
    expect([...pageFiles("docs/clustering.md", await readFile(CLUSTERING, "utf8")).keys()].sort()).toEqual([
      "cluster-client.ts",
      "cluster.ts",
    ]);
    const pkg = JSON.parse(await readFile(join(app, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    expect(pkg.dependencies).toHaveProperty(["ioredis"]);
    expect(pkg.dependencies).toHaveProperty(["@loly-rt/server"]);
    // The page says how to start both instances and the client.
    expect(runLines.map((l) => [l.command.join(" "), l.vars.PORT])).toEqual([
      ["npx tsx cluster.ts", "3001"],
      ["npx tsx cluster.ts", "3002"],
      ["npx tsx cluster-client.ts", undefined],
    ]);
    expect(files.get("cluster.ts")).toContain("process.env.CLUSTER_PREFIX");
  });

  it("two instances over Redis: a room message sent on 3001 reaches the client on 3002, presence and state are shared; SIGTERM stops both", async () => {
    const lineEnv = (vars: Record<string, string>): NodeJS.ProcessEnv => ({
      ...env,
      ...vars,
      ...("REDIS_URL" in vars ? { REDIS_URL: redisUrl } : {}),
      CLUSTER_PREFIX: prefix,
    });
    const instanceLines = runLines.filter((l) => l.command.join(" ") === "npx tsx cluster.ts");
    const clientLine = runLines.find((l) => l.command.join(" ") === "npx tsx cluster-client.ts");
    expect(instanceLines).toHaveLength(2);
    const ready = /cluster \S+ instance on http:\/\/localhost:\d+\/wss/;
    const instances = await Promise.all(
      instanceLines.map((l) => start(l.command[0] as string, l.command.slice(1), app, lineEnv(l.vars), ready)),
    );
    const stopped = new Set<Running>();
    try {
      for (const instance of instances) expect(instance.output()).toContain(`cluster ${prefix} instance`);
      const client = await run(clientLine!.command[0] as string, clientLine!.command.slice(1), {
        cwd: app,
        env: lineEnv(clientLine!.vars),
        timeoutMs: 30_000,
      });
      expectSuccess("npx tsx cluster-client.ts", client);
      const what = describeRun("cluster-client.ts", client);
      expect(client.stdout, what).toContain('Bob on 3002 got "Alice: hello from 3001"');
      expect(client.stdout, what).toContain("online on 3002: alice, bob");
      // Each user was on its own instance (in the order of the page's lines: 3001, then 3002).
      const [first, second] = instances as [Running, Running];
      expect(first.output()).toMatch(/"userId":"alice"[^\n]*"msg":"joined the lobby"/);
      expect(first.output()).not.toContain('"userId":"bob"');
      expect(second.output()).toMatch(/"userId":"bob"[^\n]*"msg":"joined the lobby"/);
      expect(second.output()).not.toContain('"userId":"alice"');

      // ctx.state of the `message` handler, in Redis under the cluster's prefix.
      const history = (await redis!.lrange(`${prefix}state:lobby:history`, 0, -1)).map(
        (m) => JSON.parse(m) as { from: string; text: string },
      );
      expect(history).toEqual([expect.objectContaining({ from: "Alice", text: "hello from 3001" })]);

      for (const instance of instances) {
        stopped.add(instance);
        expect(await stop(instance), `SIGTERM did not stop an instance:\n${instance.output()}`).toBe(0);
        expect(instance.output()).not.toMatch(/"level":(50|60)|Error/);
      }
      // A graceful stop removes the instances' presence entries at once.
      expect((await keys()).filter((k) => k.startsWith(`${prefix}presence:i:`))).toEqual([]);
    } finally {
      for (const instance of instances) if (!stopped.has(instance)) await stop(instance);
    }
  }, 60_000);
});
