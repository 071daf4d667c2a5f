/**
 * One client worker of the idle-connections scenario: opens `count` signed-in socket.io-client
 * connections (websocket only, no reconnection; handshake `auth: { token: "user-<i>" }` for i
 * from `first`), each bound to one of `addresses` (loopback source addresses such as
 * 127.77.0.1: one address has at most ~28k ephemeral ports towards one server port), at most
 * `concurrency` handshakes at a time; then holds them, answering the server's pings.
 *
 * Reports `ready` once loaded; on `go` opens the connections and reports `opened` (connected,
 * connect errors by message, wall-clock times of the first attempt and of the last connect);
 * on `status` reports `status` (connected now, disconnections since opened, by reason). Exits
 * on `close` or when the runner goes away.
 *
 * BENCH_OPTS: { url, first, count, addresses: string[], concurrency, timeoutMs }
 */
import { io } from "socket.io-client";
import { command, options, report } from "../lib/child.mjs";

const { url, first, count, addresses, concurrency, timeoutMs } = options();
const sockets = [];
const errors = {};
let errorCount = 0;
let firstError = null;
let connectedNow = 0;
let opened = false;
const drops = {};
let dropCount = 0;

function connect(i) {
  return new Promise((resolve) => {
    const s = io(`${url}/bench`, {
      path: "/wss",
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      timeout: timeoutMs,
      localAddress: addresses[i % addresses.length],
      auth: { token: `user-${first + i}` },
    });
    s.once("connect", () => {
      connectedNow++;
      s.on("disconnect", (reason) => {
        connectedNow--;
        if (!opened) return;
        dropCount++;
        drops[reason] = (drops[reason] ?? 0) + 1;
      });
      resolve(s);
    });
    s.once("connect_error", (err) => {
      const msg = `${err.message}${err.description?.code ? ` (${err.description.code})` : err.description?.message ? ` (${err.description.message})` : ""}`;
      errorCount++;
      errors[msg] = (errors[msg] ?? 0) + 1;
      firstError ??= { i: first + i, message: msg, afterConnected: connectedNow };
      s.close();
      resolve(null);
    });
  });
}

report({ type: "ready" });
await command("go");
const startedAt = Date.now();
let lastAt = startedAt;
let next = 0;
const worker = async () => {
  while (next < count) {
    const s = await connect(next++);
    if (s) {
      sockets.push(s);
      lastAt = Date.now();
    }
  }
};
await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
opened = true;
report({
  type: "opened",
  attempted: count,
  connected: sockets.length,
  errors: errorCount,
  errorKinds: errors,
  firstError,
  startedAt,
  lastAt,
});

process.on("message", (msg) => {
  if (msg.type === "status") report({ type: "status", connected: connectedNow, dropped: dropCount, drops });
  else if (msg.type === "close") process.exit(0);
});
