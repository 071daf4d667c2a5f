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
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, buildAndPack, describeRun, expectSuccess, killChildren, killGroup, outsideEnv, run, type Packed } from "./packing.js";

const PAGE = join(ROOT, "docs/getting-started.md");
/** A `ts` block whose first line names the file it is (the rest of that line may comment on it). */
const FILE_BLOCK = /```ts\n\/\/ ((?:[\w.-]+|\[\w+\])(?:\/(?:[\w.-]+|\[\w+\]))*\.(?:[cm]?[jt]s))(?=[\s:])[^\n]*\n[\s\S]*?```/g;

/** The files of the page: path -> content (the block's text, first line included). */
function pageFiles(markdown: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const m of markdown.matchAll(FILE_BLOCK)) {
    const path = m[1] as string;
    const body = m[0].slice("```ts\n".length, -"```".length);
    if (files.has(path)) throw new Error(`docs/getting-started.md shows two files named ${path}`);
    files.set(path, body);
  }
  return files;
}

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

/** Moves every listen on or connection to port 3000 to `LOLY_DOCS_PORT`. */
const PORT_PRELOAD = `import net from "node:net";
const to = Number(process.env.LOLY_DOCS_PORT);
const swap = (port) => (Number(port) === 3000 ? to : port);
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" || (typeof args[0] === "string" && /^\\d+$/.test(args[0]))) args[0] = swap(args[0]);
  else if (typeof args[0] === "object" && args[0] !== null && "port" in args[0]) args[0] = { ...args[0], port: swap(args[0].port) };
  return listen.apply(this, args);
};
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const options = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof options === "object" && options !== null && "port" in options) options.port = swap(options.port);
  else if (typeof args[0] === "number" || typeof args[0] === "string") args[0] = swap(args[0]);
  return connect.apply(this, args);
};
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const servers = new Set<ChildProcess>();

/** Starts a long-running command in its own process group; resolves once `ready` matches its output. */
function start(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, ready: RegExp): Promise<Running> {
  const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  servers.add(child);
  let out = "";
  const output = (): string => out;
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => {
      servers.delete(child);
      resolve(code);
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} ${args.join(" ")} did not start:\n${out}`)), 30_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve({ child, output, exited });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}:\n${out}`));
    });
  });
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
  let files = new Map<string, string>();

  beforeAll(async () => {
    const markdown = await readFile(PAGE, "utf8");
    files = pageFiles(markdown);
    const commands = installCommands(markdown);
    tmp = await mkdtemp(join(tmpdir(), "loly-getting-started-"));
    app = join(tmp, "my-app");
    await mkdir(app);
    const preload = join(tmp, "port-3000.mjs");
    await writeFile(preload, PORT_PRELOAD);
    const { packed } = await buildAndPack(tmp);
    env = outsideEnv({
      LOLY_DOCS_PORT: String(await freePort()),
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
      expect(server.output()).toContain(`listening on ${env.LOLY_DOCS_PORT}`);
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
