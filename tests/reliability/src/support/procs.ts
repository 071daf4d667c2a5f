/**
 * Server instances in their own OS processes (TypeScript sources through tsx), driven over
 * IPC, and throwaway `redis-server` processes a test may kill and restart.
 */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort, startRedisServer, stopRedisServer } from "../../../setup/redis-server.js";
import type { RealtimeConfigInput } from "@loly-rt/core";
import { readyPort, spawnTsFixture } from "../../../setup/child.js";

const here = fileURLToPath(new URL(".", import.meta.url));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Marker the fixture prints when the process sees an unhandled rejection or uncaught exception. */
export const FATAL_MARKER = "LOLY_FATAL";

/** A server instance in a child process. */
export interface Proc {
  proc: ChildProcess;
  port: number;
  url: string;
  /** stdout and stderr, as received. */
  output: string[];
  /** Resolves the exit code (or the signal name) when the process ends. */
  exited: Promise<number | string | null>;
  /** True while the process runs. */
  readonly alive: boolean;
  /** JSON log lines the instance wrote so far. */
  logs(): Array<Record<string, unknown>>;
  /** Sends a command to the fixture over IPC and resolves its answer. */
  call<T = unknown>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** SIGKILL: no cleanup at all. */
  kill(): Promise<void>;
  /** SIGTERM: graceful close; resolves the exit code. */
  stop(): Promise<number | string | null>;
}

export interface StartOptions {
  /** Fixture file under `src/fixtures/`. @default "instance.ts" */
  fixture?: string;
  /** Extra environment. */
  env?: Record<string, string>;
  /** Extra node flags (e.g. `--expose-gc`). */
  execArgv?: string[];
}

/** Starts a fixture with `LOLY_TEST_CONFIG`; resolves once it printed `READY <port>`. */
export async function startInstance(config: RealtimeConfigInput, options: StartOptions = {}): Promise<Proc> {
  const proc = spawnTsFixture(`${here}../fixtures/${options.fixture ?? "instance.ts"}`, {
    execArgv: options.execArgv,
    env: { LOLY_TEST_CONFIG: JSON.stringify(config), NODE_ENV: "test", ...options.env },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const output: string[] = [];
  let ended = false;
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once("exit", (code, signal) => {
      ended = true;
      resolve(code ?? signal);
    }),
  );
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  proc.on("message", (msg: { id: number; result?: unknown; error?: string }) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error !== undefined) p.reject(new Error(msg.error));
    else p.resolve(msg.result);
  });
  void exited.then(() => {
    for (const p of pending.values()) p.reject(new Error("instance exited"));
    pending.clear();
  });
  const port = await readyPort(proc, output, exited, 30_000);
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    output,
    exited,
    get alive() {
      return !ended;
    },
    logs() {
      const lines: Array<Record<string, unknown>> = [];
      for (const line of output.join("").split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // a line split across chunks that is still arriving
        }
      }
      return lines;
    },
    call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 20_000): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${cmd}: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        proc.send({ id, cmd, args });
      });
    },
    async kill() {
      if (!ended) proc.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (!ended) proc.kill("SIGTERM");
      return exited;
    },
  };
}

export { freePort };

/** A `redis-server` of the test's own (no persistence): it can be killed and restarted. */
export interface OwnRedis {
  port: number;
  url: string;
  /** SIGKILLs the server (an outage). */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence); resolves once it answers PING. */
  restart(): Promise<void>;
  /** SIGSTOPs the server: connections stay open, nothing answers (a hung Redis). */
  pause(): void;
  /** SIGCONTs a paused server. */
  resume(): void;
}

/** Starts a throwaway `redis-server` on a free port. Kill it in afterAll (`kill()`). */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined = await startRedisServer(port);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      const c = child;
      child = undefined;
      if (c) await stopRedisServer(c);
    },
    async restart() {
      if (child) throw new Error("redis-server is still running");
      child = await startRedisServer(port);
    },
    pause() {
      child?.kill("SIGSTOP");
    },
    resume() {
      child?.kill("SIGCONT");
    },
  };
}
