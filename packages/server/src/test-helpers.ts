/**
 * Test helpers (not part of the package's entry): start a real server on a free port and
 * connect real socket.io-client sockets to it.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { io as ioClient, type ManagerOptions, type Socket as ClientSocket, type SocketOptions } from "socket.io-client";
import type { AnyWssRoute, LolyErrorEvent, LolyLogger, RealtimeConfigInput } from "@loly-rt/core";
import { createRealtimeServer } from "./create-server.js";
import type { RealtimeServer, RealtimeServerOptions } from "./types.js";

export interface TestServer {
  rt: RealtimeServer;
  port: number;
  url: string;
  logs: Array<Record<string, unknown>>;
  connect(namespace: string, opts?: Partial<ManagerOptions & SocketOptions>): ClientSocket;
  /** Connects and waits for `connect` (rejects with the connect_error). */
  connected(namespace: string, opts?: Partial<ManagerOptions & SocketOptions>): Promise<ClientSocket>;
  /** Disconnects every client socket opened so far. */
  disconnectAll(): Promise<void>;
  close(): Promise<void>;
}

/** A pino logger that keeps every line as an object. */
export function memoryLogger(level = "debug"): { logger: LolyLogger; logs: Array<Record<string, unknown>> } {
  const logs: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split("\n")) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level }, stream) as unknown as LolyLogger, logs };
}

export async function startServer(
  routes: Record<string, AnyWssRoute>,
  config: RealtimeConfigInput = {},
  extra: Partial<RealtimeServerOptions> = {},
  /** The port to listen on (0: any free one). */
  listenPort = 0,
): Promise<TestServer> {
  const { logger, logs } = memoryLogger();
  const rt = await createRealtimeServer({ routes, config, logger, ...extra });
  const port = await rt.listen(listenPort, "127.0.0.1");
  const url = `http://127.0.0.1:${port}`;
  const sockets: ClientSocket[] = [];
  const connect = (namespace: string, opts: Partial<ManagerOptions & SocketOptions> = {}): ClientSocket => {
    const s = ioClient(url + namespace, {
      path: rt.config.path,
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      ...opts,
    });
    sockets.push(s);
    return s;
  };
  return {
    rt,
    port,
    url,
    logs,
    connect,
    connected(namespace, opts) {
      const s = connect(namespace, opts);
      return new Promise((resolve, reject) => {
        s.once("connect", () => resolve(s));
        s.once("connect_error", (err) => reject(err));
      });
    },
    async disconnectAll() {
      for (const s of sockets.splice(0)) s.disconnect();
      // let the server see the disconnects (per-IP counts, presence)
      await new Promise((r) => setTimeout(r, 20));
    },
    async close() {
      for (const s of sockets.splice(0)) s.disconnect();
      await rt.close();
    },
  };
}

/** Emits with an ack and resolves the ack's response. */
// biome-ignore lint/suspicious/noExplicitAny: tests read whatever field of an answer they check
export function request(socket: ClientSocket, event: string, payload?: unknown, timeoutMs = 5000): Promise<any> {
  return socket.timeout(timeoutMs).emitWithAck(event, payload);
}

/** Resolves the next `__loly:error` the socket receives. */
export function nextError(socket: ClientSocket): Promise<LolyErrorEvent> {
  return new Promise((resolve) => socket.once("__loly:error", resolve));
}

/** Resolves the next payload of `event`. */
export function nextEvent<T = unknown>(socket: ClientSocket, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${timeoutMs} ms`)), timeoutMs);
    socket.once(event, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

/**
 * What a stock socket.io-client reports when the Engine.IO handshake itself is refused (a
 * foreign origin): a transport error, with the HTTP status and (polling) the answer's body.
 */
export function handshakeRefusal(socket: ClientSocket): Promise<{ type: unknown; status: number | undefined; body: unknown }> {
  return new Promise((resolve, reject) => {
    socket.once("connect", () => reject(new Error("connected, expected a refusal")));
    socket.once("connect_error", (err: Error & { type?: unknown; description?: unknown; context?: { responseText?: string } }) => {
      const d = err.description;
      const status =
        typeof d === "number" ? d : Number(/server response: (\d+)/.exec(String((d as Error | undefined)?.message ?? ""))?.[1]);
      const text = err.context?.responseText;
      resolve({ type: err.type, status: Number.isFinite(status) ? status : undefined, body: text ? JSON.parse(text) : undefined });
    });
  });
}

/** Resolves the connect_error message of a socket that must be refused. */
export function refusal(socket: ClientSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once("connect", () => reject(new Error("connected, expected a refusal")));
    socket.once("connect_error", (err) => resolve(err.message));
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
