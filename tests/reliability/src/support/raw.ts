/**
 * Raw Engine.IO v4 / Socket.IO v5 clients: websocket frames and polling bodies written by
 * hand, so a test can send what no well-behaved client would.
 *
 * Protocol cheat sheet (text frames): Engine.IO `0` open, `2` ping, `3` pong, `4` message.
 * Socket.IO inside a message: `0` CONNECT, `1` DISCONNECT, `2` EVENT, `3` ACK,
 * `4` CONNECT_ERROR, `5` BINARY_EVENT; then `<attachments>-`, `/nsp,`, ack id, JSON.
 * Example: `42/chat,7["say",{"text":"hi"}]` is event "say" with ack id 7 on `/chat`.
 */
import { WebSocket, type RawData } from "ws";

/** What the server answered when a raw websocket ended. */
export interface Closed {
  code: number;
  reason: string;
}

/** Options of {@link RawSocket.open}. */
export interface RawOpenOptions {
  path?: string;
  headers?: Record<string, string>;
  /** Extra query string, e.g. `"token=abc"`. */
  query?: string;
}

/** One raw Engine.IO websocket connection. Answers pings; records every frame it receives. */
export class RawSocket {
  readonly frames: Array<string | Buffer> = [];
  readonly closed: Promise<Closed>;
  sid = "";
  private waiters: Array<{ match: (f: string | Buffer) => boolean; resolve: (f: string | Buffer) => void }> = [];
  private isClosed = false;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.once("close", (code, reason) => {
        this.isClosed = true;
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on("error", () => undefined);
    ws.on("message", (data: RawData, isBinary: boolean) => {
      const frame = isBinary ? Buffer.from(data as Buffer) : (data as Buffer).toString();
      if (frame === "2") {
        this.send("3");
        return;
      }
      this.frames.push(frame);
      for (const w of [...this.waiters]) {
        if (w.match(frame)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(frame);
        }
      }
    });
  }

  /** Opens `ws://…/wss/?EIO=4&transport=websocket` and waits for the Engine.IO open packet. */
  static async open(baseUrl: string, options: RawOpenOptions = {}): Promise<RawSocket> {
    const path = options.path ?? "/wss";
    const url = `${baseUrl.replace(/^http/, "ws")}${path}/?EIO=4&transport=websocket${options.query ? `&${options.query}` : ""}`;
    const ws = new WebSocket(url, { headers: options.headers ?? {}, maxPayload: 1 << 26 });
    const raw = new RawSocket(ws);
    const open = raw.next((f) => typeof f === "string" && f.startsWith("0"), 5000);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    const packet = JSON.parse(((await open) as string).slice(1)) as { sid: string };
    raw.sid = packet.sid;
    return raw;
  }

  /** Stops reading the TCP socket (the server's writes pile up); the client can still send. */
  stopReading(): void {
    (this.ws as unknown as { _socket?: { pause(): void } })._socket?.pause();
  }

  get isOpen(): boolean {
    return !this.isClosed && this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: string | Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame);
  }

  /** Resolves the next received frame that matches (already received ones do not count). */
  next(match: (f: string | Buffer) => boolean, timeoutMs = 3000): Promise<string | Buffer> {
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (f: string | Buffer) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5).map(String))}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Like {@link next}, but an already received frame counts too. */
  received(match: (f: string | Buffer) => boolean, timeoutMs = 3000): Promise<string | Buffer> {
    const found = this.frames.find(match);
    return found !== undefined ? Promise.resolve(found) : this.next(match, timeoutMs);
  }

  /** Socket.IO CONNECT to `nsp`; resolves the server's CONNECT or CONNECT_ERROR frame. */
  async connect(nsp: string, auth?: unknown): Promise<string> {
    const head = nsp === "/" ? "" : `${nsp},`;
    const reply = this.next((f) => typeof f === "string" && (f.startsWith(`40${head}`) || f.startsWith(`44${head}`)));
    this.send(`40${head}${auth === undefined ? "" : JSON.stringify(auth)}`);
    return (await reply) as string;
  }

  /** Sends an EVENT frame; with `ackId`, resolves the parsed ACK payload. */
  emit(nsp: string, args: unknown[], ackId?: number): Promise<unknown> | undefined {
    const head = nsp === "/" ? "" : `${nsp},`;
    this.send(`42${head}${ackId ?? ""}${JSON.stringify(args)}`);
    if (ackId === undefined) return undefined;
    const prefix = `43${head}${ackId}[`;
    return this.next((f) => typeof f === "string" && f.startsWith(prefix)).then(
      (f) => (JSON.parse((f as string).slice(prefix.length - 1)) as unknown[])[0],
    );
  }

  /** Sends a hand-written frame that carries ack id `ackId`; resolves the parsed ACK payload. */
  sendForAck(nsp: string, frame: string, ackId: number): Promise<unknown> {
    const prefix = `43${nsp === "/" ? "" : `${nsp},`}${ackId}[`;
    const answer = this.next((f) => typeof f === "string" && f.startsWith(prefix));
    this.send(frame);
    return answer.then((f) => (JSON.parse((f as string).slice(prefix.length - 1)) as unknown[])[0]);
  }

  /** Next `__loly:error` envelope on `nsp`. */
  nextError(nsp: string, timeoutMs = 3000): Promise<{ code: string; message: string; event?: string }> {
    const prefix = `42${nsp === "/" ? "" : `${nsp},`}["__loly:error",`;
    return this.next((f) => typeof f === "string" && f.startsWith(prefix), timeoutMs).then(
      (f) => (JSON.parse((f as string).slice((f as string).indexOf("["))) as [string, { code: string; message: string }])[1],
    );
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/** The answer to a refused raw handshake: its HTTP status and body. */
export async function refusedHandshake(
  baseUrl: string,
  transport: "websocket" | "polling",
  headers: Record<string, string>,
  path = "/wss",
): Promise<{ status: number; body: string }> {
  if (transport === "polling") {
    const res = await fetch(`${baseUrl}${path}/?EIO=4&transport=polling`, { headers });
    return { status: res.status, body: await res.text() };
  }
  const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}${path}/?EIO=4&transport=websocket`, { headers });
  ws.on("error", () => undefined);
  return new Promise((resolve, reject) => {
    ws.once("open", () => {
      ws.terminate();
      reject(new Error("the websocket handshake was accepted"));
    });
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
  });
}

/** One raw Engine.IO polling session (fetch, no client library). */
export class RawPolling {
  private constructor(
    readonly base: string,
    readonly sid: string,
    readonly headers: Record<string, string>,
  ) {}

  /** GET handshake; resolves the session (throws with the HTTP status when refused). */
  static async open(baseUrl: string, options: { path?: string; headers?: Record<string, string> } = {}): Promise<RawPolling> {
    const base = `${baseUrl}${options.path ?? "/wss"}/?EIO=4&transport=polling`;
    const res = await fetch(base, { headers: options.headers ?? {} });
    const body = await res.text();
    if (res.status !== 200 || !body.startsWith("0")) throw new Error(`polling handshake: HTTP ${res.status} ${body}`);
    const { sid } = JSON.parse(body.slice(1)) as { sid: string };
    return new RawPolling(base, sid, options.headers ?? {});
  }

  /** POSTs a body as-is; resolves the HTTP status and response text. */
  async post(body: string | Buffer, contentType = "text/plain;charset=UTF-8"): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.base}&sid=${this.sid}`, {
      method: "POST",
      headers: { ...this.headers, "content-type": contentType },
      body: typeof body === "string" ? body : new Uint8Array(body),
    });
    return { status: res.status, text: await res.text() };
  }

  /** One long-poll GET (the server answers when it has packets or a ping is due). */
  async poll(timeoutMs = 5000): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.base}&sid=${this.sid}`, { headers: this.headers, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, text: await res.text() };
  }

  /** Polls until a packet matching `match` arrives (answers pings). Resolves the packet. */
  async until(match: (packet: string) => boolean, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { status, text } = await this.poll(Math.max(100, deadline - Date.now()));
      if (status !== 200) throw new Error(`poll: HTTP ${status} ${text}`);
      for (const packet of text.split("\x1e")) {
        if (packet === "2") await this.post("3");
        else if (match(packet)) return packet;
        else if (packet === "1") throw new Error("session closed by the server");
      }
    }
    throw new Error(`no matching polling packet within ${timeoutMs} ms`);
  }
}
