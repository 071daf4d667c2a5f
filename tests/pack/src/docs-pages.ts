/**
 * What the docs tests share: a page's files (the `// <path>` convention), a preload that moves
 * the page's ports to free ones, and long-running commands started in their own process group.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

/** A `ts` block whose first line names the file it is (the rest of that line may comment on it). */
export const FILE_BLOCK = /```ts\n\/\/ ((?:[\w.-]+|\[\w+\])(?:\/(?:[\w.-]+|\[\w+\]))*\.(?:[cm]?[jt]s))(?=[\s:])[^\n]*\n[\s\S]*?```/g;

/** The files of a page: path -> content (the block's text, first line included). */
export function pageFiles(page: string, markdown: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const m of markdown.matchAll(FILE_BLOCK)) {
    const path = m[1] as string;
    const body = m[0].slice("```ts\n".length, -"```".length);
    if (files.has(path)) throw new Error(`${page} shows two files named ${path}`);
    files.set(path, body);
  }
  return files;
}

/** Moves every listen on or connection to a port of `LOLY_DOCS_PORTS` ("3001=41234,3002=41235"). */
export const PORT_PRELOAD = `import net from "node:net";
const map = new Map(String(process.env.LOLY_DOCS_PORTS).split(",").map((pair) => pair.split("=").map(Number)));
const swap = (port) => map.get(Number(port)) ?? port;
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

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** The commands started by {@link start} that still run (an afterAll kills them). */
export const servers = new Set<ChildProcess>();

/** Starts a long-running command in its own process group; resolves once `ready` matches its output. */
export function start(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, ready: RegExp): Promise<Running> {
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
