/**
 * The routes every interop suite serves. Identity comes from `handshake.auth.token`: none is
 * an anonymous connection, `"bad"` is refused (`UNAUTHORIZED`), any other string is the user id.
 */
import * as v from "valibot";
import { z } from "zod";
import { defineWssRoute } from "@loly-rt/core";

type User = { id: string };

const auth = ({ handshake }: { handshake: { auth: Record<string, unknown> } }): User | null => {
  const token = handshake.auth.token;
  if (token === undefined) return null;
  if (typeof token !== "string" || token === "bad") throw new Error("invalid token");
  return { id: token };
};

/**
 * What the official Socket.IO protocol suite's server does, as a Loly route: `auth` echoed at
 * connect, `message` answered with `message-back`, `message-with-ack` answered through the
 * ack (in Loly's `{ ok, data }` envelope). Events take one payload, so the suite's
 * multi-argument messages are sent as one array here.
 */
export const protocolRoute = defineWssRoute({
  auth,
  onConnect: (ctx) => ctx.actions.reply("auth", ctx.handshake.auth),
  events: {
    message: (ctx) => ctx.actions.reply("message-back", ctx.data),
    "message-with-ack": (ctx) => ctx.data,
  },
});

/** Bytes reversed, as a fresh Buffer (proves the server read them). */
const reversed = (bytes: Uint8Array): Buffer => Buffer.from(bytes).reverse();

/** The application-shaped route the client suites (python-socketio, socket.io-client) use. */
export const appRoute = defineWssRoute({
  auth,
  events: {
    whoami: (ctx) => ctx.user,
    add: {
      schema: z.object({ a: z.number(), b: z.number() }),
      handler: (ctx) => ctx.data.a + ctx.data.b,
    },
    fail: () => {
      throw new Error("boom");
    },
    join: { schema: z.string().min(1), handler: (ctx) => ctx.actions.join(ctx.data) },
    shout: {
      schema: z.object({ room: z.string(), text: z.string() }),
      handler: (ctx) => ctx.actions.toRoom(ctx.data.room).broadcast("shouted", { text: ctx.data.text, from: ctx.user?.id ?? null }),
    },
    /** Bytes in (zod `instanceof(Uint8Array)`: a Buffer is one), Buffer out. */
    bytes: { schema: z.instanceof(Uint8Array), handler: (ctx) => reversed(ctx.data) },
    /** Bytes in, a plain Uint8Array (not a Buffer) out. */
    bytesView: { schema: z.instanceof(Uint8Array), handler: (ctx) => new Uint8Array(reversed(ctx.data)) },
    /** An object with bytes inside (valibot), an object with bytes inside out. */
    file: {
      schema: v.object({ name: v.string(), body: v.instance(Uint8Array) }),
      handler: (ctx) => ({ name: ctx.data.name, size: ctx.data.body.byteLength, body: reversed(ctx.data.body) }),
    },
    /** Bytes pushed to the caller as an event (server to client, no ack). */
    pushBytes: {
      schema: z.number().int().min(0).max(65_536),
      handler: (ctx) => ctx.actions.reply("pushed", { bytes: Buffer.alloc(ctx.data, 7) }),
    },
  },
});
