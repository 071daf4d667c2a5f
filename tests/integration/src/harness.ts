/**
 * Starts Loly Realtime instances as separate OS processes (TypeScript sources through tsx)
 * and connects real socket.io-client sockets to them.
 */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { io as ioClient, type Socket } from "socket.io-client";
import type { RealtimeConfigInput } from "@loly-rt/core";
import { readyPort, spawnTsFixture } from "../../setup/child.js";

const here = fileURLToPath(new URL(".", import.meta.url));

export interface Instance {
  proc: ChildProcess;
  port: number;
  url: string;
  output: string[];
  /** SIGKILL: no cleanup at all. */
  kill(): Promise<void>;
  /** SIGTERM: graceful close; resolves the exit code. */
  stop(): Promise<number | null>;
}

export async function startInstance(config: RealtimeConfigInput, fixture = "fixtures/instance.ts"): Promise<Instance> {
  const proc = spawnTsFixture(`${here}${fixture}`, { env: { LOLY_TEST_CONFIG: JSON.stringify(config), NODE_ENV: "test" } });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const port = await readyPort(proc, output, exited, 20_000);
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    output,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill("SIGTERM");
      return exited;
    },
  };
}

const sockets = new Set<Socket>();

/** Connects to an instance and waits for `connect`. */
export function connectTo(inst: Instance, auth: Record<string, unknown> = {}, namespace = "/cluster"): Promise<Socket> {
  const s = ioClient(inst.url + namespace, { path: "/wss", transports: ["websocket"], reconnection: false, forceNew: true, auth });
  sockets.add(s);
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", (err) => reject(err));
  });
}

/** Resolves the connect_error message of a connection that must be refused. */
export function refusedBy(inst: Instance, auth: Record<string, unknown> = {}): Promise<string> {
  const s = ioClient(`${inst.url}/cluster`, { path: "/wss", transports: ["websocket"], reconnection: false, forceNew: true, auth });
  sockets.add(s);
  return new Promise((resolve, reject) => {
    s.once("connect", () => reject(new Error("connected; expected a refusal")));
    s.once("connect_error", (err) => resolve(err.message));
  });
}

export function closeSockets(): void {
  for (const s of sockets) s.disconnect();
  sockets.clear();
}

export async function ask<T = unknown>(s: Socket, event: string, payload?: unknown): Promise<T> {
  const res = (await s.timeout(8000).emitWithAck(event, payload)) as { ok: boolean; data?: T; error?: { code: string } };
  if (!res.ok) throw new Error(`${event} refused: ${JSON.stringify(res.error)}`);
  return res.data as T;
}

export async function askRaw(
  s: Socket,
  event: string,
  payload?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever detail a refusal carries
): Promise<{ ok: boolean; data?: unknown; error?: { code: string; details?: any } }> {
  return (await s.timeout(8000).emitWithAck(event, payload)) as never;
}

export function next<T = unknown>(s: Socket, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${timeoutMs} ms`)), timeoutMs);
    s.once(event, (p: T) => {
      clearTimeout(timer);
      resolve(p);
    });
  });
}

/** Polls `check` until it returns true or `timeoutMs` passes; resolves the elapsed ms. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
