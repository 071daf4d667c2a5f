/**
 * The `/counter` namespace: one counter in the shared (Redis) store and the list of who is
 * online, the same whichever instance a client is connected to.
 */
import { randomBytes } from "node:crypto";
import { defineWssRoute, type WssContext } from "@loly-rt/core";

/** The counter's key in the store (under the cluster's prefix). */
const COUNTER_KEY = "counter";
/** Which instance answered, for the page (set by instance.ts). */
const instance = (): string => process.env.INSTANCE_NAME ?? String(process.pid);

/** A guest, named by the server: nothing the client sends chooses an identity. */
export interface Guest {
  id: string;
}

async function onlineUsers(ctx: WssContext<unknown, Guest>, without?: string): Promise<string[]> {
  const users = await ctx.presence.users();
  return users.filter((u) => u !== without).sort();
}

export default defineWssRoute({
  requireAuth: true,
  auth: (): Guest => ({ id: `guest-${randomBytes(3).toString("hex")}` }),
  onConnect: async (ctx) => {
    // Presence registration is done (on every instance) before onConnect runs.
    ctx.actions.emit("presence", { users: await onlineUsers(ctx) });
  },
  onDisconnect: async (ctx) => {
    // This socket leaves presence right after this hook: list the others already.
    // (One socket per guest, so dropping the guest's id is exact.)
    ctx.actions.emit("presence", { users: await onlineUsers(ctx, ctx.user!.id) });
  },
  events: {
    /** Everything a page shows: who it is, where it is connected, the count and who is online. */
    hello: async (ctx) => ({
      you: ctx.user!.id,
      instance: instance(),
      count: Number((await ctx.state.get(COUNTER_KEY)) ?? 0),
      users: await onlineUsers(ctx),
    }),
    /** +1 through the shared store (atomic across instances); everyone gets the new count. */
    incr: {
      rateLimit: { eventsPerSecond: 20, burst: 40 },
      handler: async (ctx) => {
        const count = await ctx.state.incr(COUNTER_KEY);
        ctx.actions.emit("count", { count, by: ctx.user!.id, instance: instance() });
        return count;
      },
    },
    /** Who is online, on every instance. */
    users: (ctx) => onlineUsers(ctx),
  },
});
