/**
 * Load generator of scenario 3: `receivers` clients spread evenly over two instances (all in
 * room "bench"), and one sender on the first instance that emits `send` at `rate` messages
 * per second (open loop, paced every 5 ms). The server broadcasts each message to the room
 * except the sender, through Redis to the other instance. Every client lives in this one
 * process, so the send time stamped in the payload and the arrival time share one clock.
 *
 * Counts, for the messages sent between `start` and `stop`, how many deliveries arrived
 * within `graceMs` after `stop`, and their latency.
 *
 * BENCH_OPTS: { urls: [a, b], receivers, rate, graceMs }
 */
import { io } from "socket.io-client";
import { setTimeout as sleep } from "node:timers/promises";
import { command, options, report } from "../lib/child.mjs";
import { Recorder } from "../lib/stats.mjs";

const { urls, receivers, rate, graceMs } = options();
const lat = new Recorder(1 << 20);
let seq = 0;
let firstSeq = Infinity;
let lastSeq = Infinity;
let delivered = 0;

function connect(url) {
  return new Promise((resolve, reject) => {
    const s = io(`${url}/bench`, { path: "/wss", transports: ["websocket"], forceNew: true, reconnection: false });
    s.once("connect", () => resolve(s));
    s.once("connect_error", (err) => reject(new Error(`connect_error: ${err.message}`)));
  });
}

const sockets = [];
const conns = [];
for (let i = 0; i < receivers; i++) conns.push(connect(urls[i % urls.length]));
for (const s of await Promise.all(conns)) {
  s.on("msg", (m) => {
    if (m.seq >= firstSeq && m.seq <= lastSeq) {
      delivered++;
      lat.add((performance.now() - m.t) * 1000);
    }
  });
  sockets.push(s);
}
const sender = await connect(urls[0]);
// Let every instance finish joining the room before the first message.
await sleep(500);

const startedAt = performance.now();
let sent = 0;
const pacer = setInterval(() => {
  const due = Math.floor(((performance.now() - startedAt) / 1000) * rate);
  while (sent < due) {
    sender.emit("send", { t: performance.now(), seq: seq++, text: "fan-out payload" });
    sent++;
  }
}, 5);
report({ type: "ready" });

await command("start");
firstSeq = seq;
const t0 = performance.now();
await command("stop");
lastSeq = seq - 1;
const durationMs = performance.now() - t0;
clearInterval(pacer);
await sleep(graceMs);
const messages = lastSeq - firstSeq + 1;
report({
  type: "result",
  durationMs,
  messages,
  expected: messages * receivers,
  delivered,
  latencyUs: lat.summary(),
});
for (const s of [...sockets, sender]) s.disconnect();
setTimeout(() => process.exit(0), 100);
