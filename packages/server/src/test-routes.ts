/** The routes the server tests share (create-server.test.ts, connections.test.ts). */
import { z } from "zod";
import * as v from "valibot";
import { defineWssRoute, LolyError } from "@loly-rt/core";
import { sleep } from "./test-helpers.js";

export interface User {
  id: string;
  name: string;
  role: "admin" | "member";
}

export const USERS: Record<string, User> = {
  "token-alice": { id: "alice", name: "Alice", role: "admin" },
  "token-bob": { id: "bob", name: "Bob", role: "member" },
};

export const calls: Record<string, number> = {};
export const count = (name: string): void => {
  calls[name] = (calls[name] ?? 0) + 1;
};

export const chat = defineWssRoute({
  auth: ({ handshake }) => {
    const token = handshake.auth.token;
    if (token === undefined) return null;
    const user = USERS[String(token)];
    if (!user) throw new Error("bad token");
    return user;
  },
  onConnect: async (ctx) => {
    await ctx.actions.join("lobby");
  },
  events: {
    ping: () => "pong",
    whoami: (ctx) => ({ user: ctx.user, data: ctx.data }),
    echo: {
      schema: z.object({ text: z.string().max(20) }),
      handler: (ctx) => {
        count("echo");
        return ctx.data;
      },
    },
    echoValibot: {
      schema: v.object({ n: v.pipe(v.number(), v.minValue(0)) }),
      handler: (ctx) => {
        count("echoValibot");
        return ctx.data.n * 2;
      },
    },
    transform: {
      schema: z.object({ n: z.string().transform((s) => Number(s)) }),
      handler: (ctx) => ctx.data.n + 1,
    },
    adminOnly: {
      guard: ({ user }) => user?.role === "admin",
      handler: () => {
        count("adminOnly");
        return "secret";
      },
    },
    signedIn: {
      requireAuth: true,
      handler: (ctx) => ctx.user?.id,
    },
    limited: {
      rateLimit: { eventsPerSecond: 1, burst: 2 },
      handler: () => {
        count("limited");
        return "ok";
      },
    },
    boom: () => {
      throw new Error("kaboom: secret detail");
    },
    boomAsync: async () => {
      await sleep(1);
      throw new Error("async kaboom");
    },
    refuseWithCode: () => {
      throw new LolyError("FORBIDDEN", "not your room", { room: "x" });
    },
    say: {
      schema: z.object({ room: z.string(), text: z.string() }),
      handler: (ctx) => {
        ctx.actions.toRoom(ctx.data.room).emit("said", { from: ctx.user?.id ?? null, text: ctx.data.text });
        return true;
      },
    },
    joinRoom: {
      schema: z.string(),
      handler: async (ctx) => {
        await ctx.actions.join(ctx.data);
        return [...ctx.socket.rooms];
      },
    },
    dm: {
      schema: z.object({ to: z.string(), text: z.string() }),
      handler: (ctx) => ctx.actions.toUser(ctx.data.to).emit("dm", { from: ctx.user?.id, text: ctx.data.text }),
    },
    log: (ctx) => {
      ctx.log.info({ marker: "log-test" }, "hello from handler");
      return ctx.requestId;
    },
    counter: async (ctx) => ctx.state.incr("hits"),
    online: async (ctx) => (await ctx.presence.users()).sort(),
    reqInfo: (ctx) => ({ ip: ctx.req.ip, cookies: ctx.req.cookies, ns: ctx.namespace, params: ctx.params }),
    replyMe: (ctx) => {
      ctx.actions.reply("replied", 42);
      ctx.actions.error("BAD_PAYLOAD", "custom refusal", { why: "test" });
    },
  },
});

export const privateRoute = defineWssRoute({
  requireAuth: true,
  auth: ({ handshake }) => USERS[String(handshake.auth.token)] ?? null,
  events: { hello: (ctx) => `hi ${ctx.user?.name}` },
});

export const rooms = defineWssRoute({
  events: { where: (ctx) => ({ params: ctx.params, ns: ctx.namespace }) },
});
