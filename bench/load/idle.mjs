/**
 * Load generator of scenario 4: opens signed-in websocket connections (handshake
 * `auth: { token: "user-<i>" }`, one user per connection) up to each count of `steps`, at
 * most `concurrency` handshakes at a time, then reports `reached` and waits for `continue`
 * while the connections stay idle.
 *
 * BENCH_OPTS: { url, steps: number[], concurrency }
 */
import { io } from "socket.io-client";
import { command, options, report } from "../lib/child.mjs";

const { url, steps, concurrency } = options();
const sockets = [];

function connect(i) {
  return new Promise((resolve, reject) => {
    const s = io(`${url}/bench`, {
      path: "/wss",
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      auth: { token: `user-${i}` },
    });
    s.once("connect", () => resolve(s));
    s.once("connect_error", (err) => reject(new Error(`connect_error after ${sockets.length} connections: ${err.message}`)));
  });
}

async function openUpTo(n) {
  let next = sockets.length;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      sockets.push(await connect(i));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n - sockets.length) }, worker));
}

try {
  for (const n of steps) {
    const t0 = performance.now();
    await openUpTo(n);
    report({ type: "reached", n: sockets.length, ms: performance.now() - t0 });
    await command("continue");
  }
} catch (err) {
  console.error(`idle load generator: ${err?.message ?? err}`);
  process.exit(1);
}
for (const s of sockets) s.disconnect();
setTimeout(() => process.exit(0), 200);
