/**
 * Load generator of scenarios 1 and 2: `connections` websocket clients sending acknowledged
 * `echo` requests. Records the round-trip latency of every request acknowledged between the
 * runner's `start` and `stop` (each `stop` answers one `result`).
 *
 * Two loads, one after the other in the same process:
 * - closed loop (from the start): each connection keeps `window` requests in flight; every ack
 *   sends the next request;
 * - fixed rate (after the runner's `paced { rate }`): requests go out at `rate` per second in
 *   total, paced every 2 ms, round-robin over the connections; a connection that already has
 *   64 requests in flight skips its turn (counted as `skipped`: the server fell behind).
 *
 * `drain` stops sending, waits for every request in flight and answers `drained` with the
 * number of acks received since the start.
 *
 * With `hold`, it answers `connected` once every connection is up and sends nothing before `go`.
 *
 * BENCH_OPTS: { url, connections, window, hold? }
 */
import { io } from "socket.io-client";
import { setTimeout as sleep } from "node:timers/promises";
import { command, options, report } from "../lib/child.mjs";
import { Recorder } from "../lib/stats.mjs";

const { url, connections, window, hold } = options();
/** In-flight cap per connection at a fixed rate: room for hiccups without queueing forever. */
const PACED_CAP = Math.max(window, 64);
const payload = { text: "hello from the load generator", n: 42 };
const lat = new Recorder(1 << 20);
let measuring = false;
let closedLoop = true;
let done = 0;
let bad = 0;
let firstBad = null;
let inflight = 0;
let skipped = 0;
let totalAcks = 0;

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
  inflight++;
  s.inflight++;
  s.emit("echo", payload, (ack) => {
    inflight--;
    s.inflight--;
    totalAcks++;
    if (measuring) {
      lat.add((performance.now() - t0) * 1000);
      done++;
      if (!isGood(ack)) {
        bad++;
        firstBad ??= ack;
      }
    }
    if (closedLoop) fire(s);
  });
}

async function measureWindow() {
  await command("start");
  lat.reset();
  done = 0;
  skipped = 0;
  measuring = true;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await command("stop");
  measuring = false;
  const cpu = process.cpuUsage(cpu0);
  const durationMs = performance.now() - t0;
  report({
    type: "result",
    durationMs,
    roundTrips: done,
    skipped,
    errors: bad,
    firstError: firstBad,
    latencyUs: lat.summary(),
    cpuUs: cpu.user + cpu.system,
  });
}

const sockets = [];
process.on("message", async (msg) => {
  if (msg.type === "drain") {
    // Stop sending, let every request in flight come back, tell how many acks came in all.
    closedLoop = false;
    while (inflight > 0) await sleep(5);
    report({ type: "drained", totalAcks });
  } else if (msg.type === "close") {
    for (const s of sockets) s.disconnect();
    setTimeout(() => process.exit(0), 100);
  }
});
for (let i = 0; i < connections; i++) {
  const s = await connect();
  s.inflight = 0;
  sockets.push(s);
}
if (hold) {
  report({ type: "connected" });
  await command("go");
}
for (const s of sockets) for (let k = 0; k < window; k++) fire(s);
report({ type: "ready" });
await measureWindow();

const paced = await Promise.race([command("paced"), command("close")]);
if (paced.type === "paced") {
  closedLoop = false;
  while (inflight > 0) await sleep(5);
  const startedAt = performance.now();
  let sent = 0;
  let next = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - startedAt) / 1000) * paced.rate);
    for (; sent < due; sent++) {
      const s = sockets[next];
      next = (next + 1) % sockets.length;
      if (s.inflight >= PACED_CAP) skipped++;
      else fire(s);
    }
  }, 2);
  report({ type: "paced-ready" });
  await measureWindow();
  clearInterval(timer);
}
for (const s of sockets) s.disconnect();
setTimeout(() => process.exit(0), 100);
