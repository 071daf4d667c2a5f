/**
 * docs/getting-started.md, followed literally in an empty folder outside the workspace.
 *
 * The page's convention: a `ts` code block whose first line is a comment naming a path
 * (`// main.ts`, `// app/wss/chat/events.ts: the namespace "/chat"`) is a file of the project,
 * saved at that path exactly as shown. This test runs the `npm` lines of the page's Install
 * section (`npm init -y`, `npm pkg set type=module`, `npm install ...`; the `@loly-rt/*`
 * packages are this workspace's packed tarballs, with the siblings they depend on that the
 * registry would bring), saves every file, then starts each server the page starts
 * (`npx tsx main.ts`, `npx tsx server.ts`) and runs the page's client against it.
 *
 * The page's port 3000 is moved to a free one by a preloaded module (`--import`), so the
 * files stay as shown and the test runs beside anything already listening on 3000.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PORT_PRELOAD, freePort, pageFiles, type Running, servers, start } from "./docs-pages.js";
import { ROOT, buildAndPack, describeRun, expectSuccess, killChildren, killGroup, outsideEnv, run, type Packed } from "./packing.js";

const PAGE = join(ROOT, "docs/getting-started.md");
/** The `npm` command lines of the page's Install section, in order (comments dropped). */
function installCommands(markdown: string): string[][] {
  const section = /\n## Install\n([\s\S]*?)\n## /.exec(markdown)?.[1] ?? "";
  const lines: string[][] = [];
  for (const [, block] of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of (block as string).split("\n")) {
      const words = line.replace(/#.*$/, "").trim().split(/\s+/).filter(Boolean);
      if (words[0] === "npm") lines.push(words);
    }
  }
  return lines;
}

/** Stops a server like Ctrl-C does (SIGINT to its process group); SIGKILL after 10 s. Resolves whether SIGINT did it. */
async function stop(server: Running): Promise<boolean> {
  let killed = false;
  killGroup(server.child, "SIGINT");
  const timer = setTimeout(() => {
    killed = true;
    killGroup(server.child);
  }, 10_000);
  await server.exited;
  clearTimeout(timer);
  return !killed;
}

describe("docs/getting-started.md, followed in an empty folder", () => {
  let tmp = "";
  let app = "";
  let env: NodeJS.ProcessEnv = {};
  /** The free port the page's 3000 is moved to. */
  let port = 0;
  let files = new Map<string, string>();

  beforeAll(async () => {
    const markdown = await readFile(PAGE, "utf8");
    files = pageFiles("docs/getting-started.md", markdown);
    const commands = installCommands(markdown);
    tmp = await mkdtemp(join(tmpdir(), "loly-getting-started-"));
    app = join(tmp, "my-app");
    await mkdir(app);
    const preload = join(tmp, "port-3000.mjs");
    await writeFile(preload, PORT_PRELOAD);
    const { packed } = await buildAndPack(tmp);
    port = await freePort();
    env = outsideEnv({
      LOLY_DOCS_PORTS: `3000=${port}`,
      NODE_OPTIONS: `--import ${pathToFileURL(preload).href}`,
      npm_config_update_notifier: "false",
      npm_config_fund: "false",
      npm_config_audit: "false",
    });

    const tarballOf = (name: string): Packed | undefined => packed.find((p) => p.name === name);
    const named = new Set(commands.flat().filter((w) => w.startsWith("@loly-rt/")));
    let siblingsAdded = false;
    for (const words of commands) {
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
  }, 300_000);

  afterAll(async () => {
    for (const child of servers) killGroup(child);
    killChildren();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("shows every file the page's code imports (the chat route's auth.ts included)", () => {
    expect([...files.keys()].sort()).toEqual(
      ["app/wss/chat/events.ts", "app/wss/rooms/[id]/events.ts", "auth.ts", "chat.ts", "client.ts", "main.ts", "server.ts"].sort(),
    );
  });

  it("makes a project of ES modules whose dependencies are the page's", async () => {
    const pkg = JSON.parse(await readFile(join(app, "package.json"), "utf8")) as {
      type?: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    expect(pkg.type).toBe("module");
    for (const name of ["@loly-rt/server", "@loly-rt/core", "@loly-rt/client", "socket.io", "socket.io-client", "zod"]) {
      expect(pkg.dependencies, name).toHaveProperty([name]);
    }
    expect(pkg.devDependencies).toHaveProperty(["tsx"]);
  });

  it("`npx tsx main.ts` serves the first route: the client connects, requests and gets its answers", async () => {
    const server = await start("npx", ["tsx", "main.ts"], app, env, /listening on \d+/);
    try {
      expect(server.output()).toContain(`listening on ${port}`);
      const client = await run("npx", ["tsx", "client.ts"], { cwd: app, env, timeoutMs: 30_000 });
      expectSuccess("npx tsx client.ts", client);
      // `ping` answered "pong", `message` { delivered: true } (broadcast to everyone else: not printed here).
      expect(client.stdout, describeRun("client.ts", client)).toContain("pong true");
    } finally {
      await stop(server);
    }
  }, 60_000);

  it("`npx tsx server.ts` loads the route files: sign-in, room message, answers and a BAD_PAYLOAD refusal; Ctrl-C stops it", async () => {
    const server = await start("npx", ["tsx", "server.ts"], app, env, /Socket\.IO on http:\/\/localhost:\d+\/wss/);
    let stopped = false;
    try {
      const client = await run("npx", ["tsx", "client.ts"], { cwd: app, env, timeoutMs: 30_000 });
      expectSuccess("npx tsx client.ts", client);
      const what = describeRun("client.ts", client);
      expect(client.stdout, what).toContain("Alice: hello"); // the lobby message, from the auth hook's user
      expect(client.stdout, what).toContain("pong true");
      expect(client.stderr, what).toMatch(/issues[\s\S]*path: 'text'/); // the refused empty message's details
      expect(server.output()).not.toMatch(/"level":(50|60)/);
      stopped = true;
      expect(await stop(server), "Ctrl-C did not stop server.ts").toBe(true);
      // Its graceful stop (rt.close(), then exit) logged no error on the way out.
      expect(server.output()).not.toMatch(/"level":(50|60)|Error/);
    } finally {
      if (!stopped) await stop(server);
    }
  }, 60_000);
});
