/**
 * Binary payloads through schema-validated events with a stock socket.io-client, over each
 * transport on its own (polling only, never upgraded; websocket only): a Buffer in, a Buffer
 * or a plain Uint8Array out, bytes inside an object (valibot), bytes pushed as an event, and
 * a refusal when the schema wants something else.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Socket } from "socket.io-client";
import { nextError, nextEvent, request, startServer, type TestServer } from "../../../packages/server/src/test-helpers.js";
import { appRoute } from "./support/route.js";

const NS = "/interop";
const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) % 256));
const reversed = (b: Buffer): Buffer => Buffer.from(b).reverse();

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer({ [NS]: appRoute }, { limits: { connectionsPerIp: 1000 } });
});
afterAll(async () => {
  await srv?.close();
});

describe.each<[string, { transports: Array<"polling" | "websocket">; upgrade?: boolean }]>([
  ["polling only", { transports: ["polling"], upgrade: false }],
  ["websocket only", { transports: ["websocket"] }],
])("socket.io-client, %s", (_name, transport) => {
  let socket: Socket;
  beforeAll(async () => {
    socket = await srv.connected(NS, { ...transport, auth: { token: "bin" } });
  });
  afterAll(() => {
    socket?.disconnect();
  });

  it("stays on its transport", () => {
    expect(socket.io.engine.transport.name).toBe(transport.transports[0]);
  });

  it("a Buffer in (zod instanceof(Uint8Array)), a Buffer out", async () => {
    const input = bytes(1024);
    const res = await request(socket, "bytes", input);
    expect(res.ok).toBe(true);
    expect(Buffer.isBuffer(res.data)).toBe(true);
    expect(res.data).toEqual(reversed(input));
  });

  it("a Uint8Array in, a plain Uint8Array out (received as bytes)", async () => {
    const input = new Uint8Array(bytes(300));
    const res = await request(socket, "bytesView", input);
    expect(res.ok).toBe(true);
    expect(Buffer.from(res.data as Uint8Array)).toEqual(reversed(Buffer.from(input)));
  });

  it("bytes inside an object (valibot instance(Uint8Array)) in and out", async () => {
    const body = bytes(5000);
    const res = await request(socket, "file", { name: "a.bin", body });
    expect(res).toEqual({ ok: true, data: { name: "a.bin", size: 5000, body: reversed(body) } });
  });

  it("the empty byte string and every byte value survive", async () => {
    expect((await request(socket, "bytes", Buffer.alloc(0))).data).toEqual(Buffer.alloc(0));
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect((await request(socket, "bytes", all)).data).toEqual(reversed(all));
  });

  it("bytes pushed by the server as an event (no ack)", async () => {
    const pushed = nextEvent<{ bytes: Buffer }>(socket, "pushed");
    socket.emit("pushBytes", 2048);
    const got = await pushed;
    expect(got.bytes).toEqual(Buffer.alloc(2048, 7));
  });

  it("a string where the schema wants bytes: BAD_PAYLOAD with issues, ack and __loly:error", async () => {
    const err = nextError(socket);
    const res = await request(socket, "bytes", "not bytes");
    expect(res.ok).toBe(false);
    expect(res.error.code).toBe("BAD_PAYLOAD");
    expect(res.error.details.issues).toEqual([expect.objectContaining({ path: "" })]);
    expect((await err).code).toBe("BAD_PAYLOAD");
  });

  it("bytes where the schema wants an object: BAD_PAYLOAD", async () => {
    const res = await request(socket, "file", bytes(10));
    expect(res.ok).toBe(false);
    expect(res.error.code).toBe("BAD_PAYLOAD");
  });
});
