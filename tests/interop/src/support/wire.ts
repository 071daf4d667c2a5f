/**
 * A client of Engine.IO v4 / Socket.IO v5 written from the protocol documents, with no
 * Socket.IO code: `fetch` for HTTP long-polling and `ws` for WebSocket. What the official
 * `socket.io-protocol` test suite does by hand, as small helpers.
 *
 * Engine.IO packets: `0` open, `1` close, `2` ping, `3` pong, `4` message, `5` upgrade, `6` noop;
 * a polling body joins packets with the record separator `\x1e`, binary as `b<base64>`.
 * Socket.IO packets (inside `4`): `0` CONNECT, `1` DISCONNECT, `2` EVENT, `3` ACK,
 * `4` CONNECT_ERROR, `5` BINARY_EVENT, `6` BINARY_ACK.
 */
import { WebSocket, type RawData } from "ws";

export type Frame = string | Buffer;

/** The Engine.IO open packet's JSON. */
export interface OpenPacket {
  sid: string;
  upgrades: string[];
  pingInterval: number;
  pingTimeout: number;
  maxPayload: number;
}

export const RS = "\x1e";

/** A raw WebSocket that queues every frame it receives. */
export class WireSocket {
  private readonly queue: Frame[] = [];
  private readonly waiters: Array<(f: Frame) => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Answer pings with pongs and keep them out of {@link next}. */
  autoPong = false;

  constructor(readonly ws: WebSocket) {
    ws.on("error", () => undefined);
    this.closed = new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on("message", (data: RawData, isBinary: boolean) => {
      const frame: Frame = isBinary ? Buffer.from(data as Buffer) : (data as Buffer).toString();
      if (this.autoPong && frame === "2") {
        ws.send("3");
        return;
      }
      const waiter = this.waiters.shift();
      if (waiter) waiter(frame);
      else this.queue.push(frame);
    });
  }

  /** Opens `<base><path>/?<query>` over WebSocket; resolves once the socket is open. */
  static async open(base: string, query: string, path = "/wss"): Promise<WireSocket> {
    const ws = new WebSocket(`${base.replace(/^http/, "ws")}${path}/?${query}`);
    const socket = new WireSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once("error", reject);
    });
    return socket;
  }

  /** Opens a fresh Engine.IO session over WebSocket and reads its open packet. */
  static async session(base: string, path = "/wss"): Promise<{ socket: WireSocket; open: OpenPacket }> {
    const socket = await WireSocket.open(base, "EIO=4&transport=websocket", path);
    const first = await socket.next();
    if (typeof first !== "string" || !first.startsWith("0")) throw new Error(`expected an open packet, got ${String(first)}`);
    return { socket, open: JSON.parse(first.slice(1)) as OpenPacket };
  }

  /** The next frame received (queued ones first). */
  next(timeoutMs = 3000): Promise<Frame> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (f: Frame): void => {
        clearTimeout(timer);
        resolve(f);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next `count` frames. */
  async take(count: number, timeoutMs = 3000): Promise<Frame[]> {
    const frames: Frame[] = [];
    while (frames.length < count) frames.push(await this.next(timeoutMs));
    return frames;
  }

  send(frame: Frame): void {
    this.ws.send(frame);
  }

  /** Resolves true when the server closes the socket within `timeoutMs`. */
  closesWithin(timeoutMs: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);
  }

  close(): void {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}

/** HTTP long-polling against one server, by hand. */
export class Polling {
  constructor(
    readonly base: string,
    readonly path = "/wss",
  ) {}

  url(query: string): string {
    return `${this.base}${this.path}/?${query}`;
  }

  /** A GET (handshake without `sid`, long poll with it): status and body. */
  async get(query: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
    const res = await fetch(this.url(query), { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  }

  async post(query: string, body: string | Buffer, method = "POST"): Promise<{ status: number; body: string }> {
    const res = await fetch(this.url(query), {
      method,
      headers: { "content-type": "text/plain;charset=UTF-8" },
      body: typeof body === "string" ? body : new Uint8Array(body),
    });
    return { status: res.status, body: await res.text() };
  }

  /** Opens a session: resolves its open packet. */
  async handshake(): Promise<OpenPacket> {
    const { status, body } = await this.get("EIO=4&transport=polling");
    if (status !== 200 || !body.startsWith("0")) throw new Error(`polling handshake: HTTP ${status} ${body}`);
    return JSON.parse(body.slice(1)) as OpenPacket;
  }

  poll(sid: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
    return this.get(`EIO=4&transport=polling&sid=${sid}`, timeoutMs);
  }

  push(sid: string, body: string | Buffer): Promise<{ status: number; body: string }> {
    return this.post(`EIO=4&transport=polling&sid=${sid}`, body);
  }

  /** Polls until the packets (split on `\x1e`, pings answered and dropped) number `count`. */
  async packets(sid: string, count: number, timeoutMs = 5000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    const got: string[] = [];
    while (got.length < count) {
      if (Date.now() > deadline) throw new Error(`only ${got.length} of ${count} packets within ${timeoutMs} ms: ${JSON.stringify(got)}`);
      const { status, body } = await this.poll(sid, Math.max(100, deadline - Date.now()));
      if (status !== 200) throw new Error(`poll: HTTP ${status} ${body}`);
      for (const packet of body.split(RS)) {
        if (packet === "2") await this.push(sid, "3");
        else got.push(packet);
      }
    }
    return got;
  }
}

/**
 * What the server did with a WebSocket upgrade it must not serve: an HTTP refusal (status and
 * body), or an accepted upgrade closed before any Engine.IO open packet. Rejects when an open
 * packet arrives.
 */
export function refusedUpgrade(
  base: string,
  query: string,
  path = "/wss",
): Promise<{ status: number; body: string } | { closedWithoutOpen: true }> {
  const ws = new WebSocket(`${base.replace(/^http/, "ws")}${path}/?${query}`);
  ws.on("error", () => undefined);
  return new Promise((resolve, reject) => {
    ws.on("message", (data: RawData) => {
      ws.terminate();
      reject(new Error(`the upgrade ${query} was served: ${(data as Buffer).toString().slice(0, 80)}`));
    });
    ws.once("close", () => resolve({ closedWithoutOpen: true }));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
