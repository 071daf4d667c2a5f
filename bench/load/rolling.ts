/**
 * Load generator of scenario 7 (rolling restart): `clients` stock socket.io-client sockets
 * through the balancer, websocket transport, every other option at its default (reconnection
 * on, delays 1000-5000 ms with 0.5 randomization) but `forceNew` (one process plays every
 * client, so each must get its own connection instead of sharing one Manager).
 *
 * Client `i` signs in as `u<i>`. After the runner's `go`, each sends `rate` acked `work`
 * requests a second (payload: its next sequence number; the sends of all clients are spread
 * evenly over the period), with socket.io-client's own ack timeout (`timeout(ackTimeoutMs)`),
 * whether it is connected or not: a request made while disconnected waits in socket.io-client's
 * buffer and goes out on reconnection, as it would in an application.
 *
 * It records, per client, how each request ended (`ok`: answered `{ ok: true, data: seq }`;
 * otherwise why: `disconnected` (socket.io-client gave up on the ack because the connection
 * dropped), `timeout`, `refused:<code>`, `bad`) and every lost connection (`lostAt`, `backAt`,
 * reason; wall clock, ms).
 *
 * Commands: `status` (answers `{ connected, at }`), `go`, `stop` (stops sending, waits until
 * every request has ended or `ackTimeoutMs` more, answers `result`, exits), `close` (exits).
 *
 * BENCH_OPTS: { url, clients, rate, ackTimeoutMs }
 */
import { io, type Socket } from "socket.io-client";
// @ts-expect-error plain JS helper of the runner (no type declarations)
import { command, options, report } from "../lib/child.mjs";

interface Opts {
  url: string;
  clients: number;
  rate: number;
  ackTimeoutMs: number;
}

interface Gap {
  lostAt: number;
  backAt: number | null;
  reason: string;
  /** Failed reconnection attempts (`connect_error`) before it was back. */
  errors: number;
  /** Whether the reconnection recovered the session (`socket.recovered`, connection-state recovery). */
  recovered: boolean;
}

interface Client {
  socket: Socket;
  seq: number;
  pending: number;
  ok: number[];
  /** [seq, why, ms from the send to the failure, 1 when it was made while disconnected]. */
  failed: Array<[number, string, number, number]>;
  /** Requests made while the client was disconnected (buffered by socket.io-client). */
  whileDown: number;
  gaps: Gap[];
  firstConnectErrors: number;
  connectedOnce: boolean;
}

const opts = options() as Opts;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const clients: Client[] = [];
let sending = false;
const timers: NodeJS.Timeout[] = [];
/** `connect_error` messages (first connections and reconnections), by message. */
const connectErrors: Record<string, number> = {};

function open(i: number): Client {
  const socket = io(`${opts.url}/bench`, { path: "/wss", transports: ["websocket"], forceNew: true, auth: { token: `u${i}` } });
  const c: Client = { socket, seq: 0, pending: 0, ok: [], failed: [], whileDown: 0, gaps: [], firstConnectErrors: 0, connectedOnce: false };
  socket.on("connect", () => {
    c.connectedOnce = true;
    const gap = c.gaps[c.gaps.length - 1];
    if (gap && gap.backAt === null) {
      gap.backAt = Date.now();
      gap.recovered = socket.recovered;
    }
  });
  socket.on("disconnect", (reason) => {
    c.gaps.push({ lostAt: Date.now(), backAt: null, reason, errors: 0, recovered: false });
  });
  socket.on("connect_error", (err) => {
    // socket.io-client's message ("websocket error") and what the transport said (`description`).
    const d = (err as Error & { description?: { message?: string } }).description;
    const key = d?.message ? `${err.message}: ${d.message}` : err.message;
    connectErrors[key] = (connectErrors[key] ?? 0) + 1;
    const gap = c.gaps[c.gaps.length - 1];
    if (gap && gap.backAt === null) gap.errors++;
    else if (!c.connectedOnce) c.firstConnectErrors++;
  });
  return c;
}

function send(c: Client): void {
  const seq = ++c.seq;
  const sentAt = performance.now();
  c.pending++;
  const down = c.socket.connected ? 0 : 1;
  c.whileDown += down;
  c.socket.timeout(opts.ackTimeoutMs).emit("work", seq, (err: Error | null, ack: unknown) => {
    c.pending--;
    const ms = Math.round(performance.now() - sentAt);
    if (err) {
      const why = err.message.includes("disconnected") ? "disconnected" : err.message.includes("timed out") ? "timeout" : err.message;
      c.failed.push([seq, why, ms, down]);
      return;
    }
    const a = ack as { ok?: boolean; data?: unknown; error?: { code?: string } } | null;
    if (a?.ok === true && a.data === seq) c.ok.push(seq);
    else if (a?.ok === false) c.failed.push([seq, `refused:${a.error?.code ?? "?"}`, ms, down]);
    else c.failed.push([seq, "bad", ms, down]);
  });
}

process.on("message", (msg: { type: string }) => {
  if (msg.type === "status") {
    let connected = 0;
    for (const c of clients) if (c.socket.connected) connected++;
    report({ type: "status", connected, at: Date.now() });
  } else if (msg.type === "close") {
    for (const c of clients) c.socket.close();
    setTimeout(() => process.exit(0), 100);
  }
});

// Open every connection, 100 at a time, so the start does not measure a connection storm.
for (let i = 0; i < opts.clients; i++) {
  clients.push(open(i));
  if (i % 100 === 99) await sleep(50);
}

await command("go");
sending = true;
const periodMs = 1000 / opts.rate;
for (let i = 0; i < clients.length; i++) {
  const c = clients[i] as Client;
  timers.push(
    setTimeout(
      () => {
        if (!sending) return;
        send(c);
        timers.push(setInterval(() => sending && send(c), periodMs));
      },
      (i / clients.length) * periodMs,
    ),
  );
}

await command("stop");
sending = false;
for (const t of timers) clearInterval(t);
const deadline = Date.now() + opts.ackTimeoutMs + 1000;
while (clients.some((c) => c.pending > 0) && Date.now() < deadline) await sleep(50);

const result = {
  type: "result",
  connectErrors,
  clients: clients.map((c, i) => ({
    user: `u${i}`,
    sent: c.seq,
    ok: c.ok,
    failed: c.failed,
    pending: c.pending,
    whileDown: c.whileDown,
    gaps: c.gaps,
    firstConnectErrors: c.firstConnectErrors,
    connected: c.socket.connected,
  })),
};
// A big message: exit once it has been handed to the runner, not on a timer.
process.send?.(result, () => {
  for (const c of clients) c.socket.close();
  setTimeout(() => process.exit(0), 100);
});
