/** socket.io-client sockets for the multi-process suites (closed by `closeClients()`). */
import { io as ioClient, type Socket } from "socket.io-client";

export { ask, askRaw, eventually, next } from "../../../integration/src/harness.js";

const open = new Set<Socket>();

/** Connects to `url + namespace` over websocket and waits for `connect` (rejects with the connect_error). */
export function connectClient(url: string, namespace: string, auth: Record<string, unknown> = {}): Promise<Socket> {
  const s = ioClient(url + namespace, { path: "/wss", transports: ["websocket"], reconnection: false, forceNew: true, auth });
  open.add(s);
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", (err) => reject(err));
  });
}

/** Resolves when the server disconnects `s` (its reason), or rejects after `timeoutMs`. */
export function disconnected(s: Socket, timeoutMs = 5000): Promise<string> {
  if (!s.connected) return Promise.resolve("already disconnected");
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still connected after ${timeoutMs} ms`)), timeoutMs);
    s.once("disconnect", (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

export function closeClients(): void {
  for (const s of open) s.disconnect();
  open.clear();
}
