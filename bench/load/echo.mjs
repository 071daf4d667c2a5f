/**
 * Load generator of scenarios 1 and 2: `connections` websocket clients, each keeping
 * `window` acknowledged `echo` requests in flight (a windowed closed loop: every ack sends
 * the next request). Records the round-trip latency of every request acknowledged between
 * the runner's `start` and `stop`.
 *
 * BENCH_OPTS: { url, connections, window }
 */
import { io } from "socket.io-client";
import { command, options, report } from "../lib/child.mjs";
import { Recorder } from "../lib/stats.mjs";

const { url, connections, window } = options();
const payload = { text: "hello from the load generator", n: 42 };
const lat = new Recorder(1 << 20);
let measuring = false;
let done = 0;
let bad = 0;
let firstBad = null;
let stopped = false;

function connect() {
  return new Promise((resolve, reject) => {
    const s = io(`${url}/bench`, { path: "/wss", transports: ["websocket"], forceNew: true, reconnection: false });
    s.once("connect", () => resolve(s));
    s.once("connect_error", (err) => reject(new Error(`connect_error: ${err.message}`)));
  });
}

/** Plain Socket.IO acks the payload; Loly acks `{ ok: true, data }`. Anything else is an error. */
function isGood(ack) {
  if (ack && typeof ack === "object" && "ok" in ack) return ack.ok === true && ack.data?.n === 42;
  return ack?.n === 42;
}

function fire(s) {
  const t0 = performance.now();
  s.emit("echo", payload, (ack) => {
    if (measuring) {
      lat.add((performance.now() - t0) * 1000);
      done++;
      if (!isGood(ack)) {
        bad++;
        firstBad ??= ack;
      }
    }
    if (!stopped) fire(s);
  });
}

const sockets = [];
for (let i = 0; i < connections; i++) sockets.push(await connect());
for (const s of sockets) for (let k = 0; k < window; k++) fire(s);
report({ type: "ready" });

await command("start");
lat.reset();
done = 0;
measuring = true;
const t0 = performance.now();
await command("stop");
measuring = false;
const durationMs = performance.now() - t0;
stopped = true;
report({ type: "result", durationMs, roundTrips: done, errors: bad, firstError: firstBad, latencyUs: lat.summary() });
for (const s of sockets) s.disconnect();
setTimeout(() => process.exit(0), 100);
