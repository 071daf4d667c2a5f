import { describe, expectTypeOf, test } from "vitest";
import { z } from "zod";
import type { PresenceDiff, PresenceSnapshot } from "./presence.js";
import {
  defineWssRoute,
  type AnyWssRoute,
  type RouteEmits,
  type RouteEventName,
  type RoutePresenceBroadcast,
  type RouteUser,
} from "./route.js";

interface User {
  id: string;
}

const live = defineWssRoute({
  auth: (): User | null => ({ id: "u1" }),
  presence: { broadcast: true },
  emits: { said: z.object({ text: z.string() }) },
  events: {
    join: {
      schema: z.object({ room: z.string() }),
      handler: async (ctx) => {
        await ctx.actions.join(ctx.data.room);
        ctx.actions.toRoom(ctx.data.room).emit("said", { text: "hi" });
        return ctx.data.room;
      },
    },
  },
});

describe("presence: { broadcast: true }", () => {
  test("the route keeps the option's literal, the rest of its type unchanged", () => {
    expectTypeOf(live.presence).toExtend<{ broadcast: true } | undefined>();
    expectTypeOf(live.presence).not.toExtend<{ broadcast: false } | undefined>();
    expectTypeOf<RoutePresenceBroadcast<typeof live>>().toEqualTypeOf<true>();
    expectTypeOf<RouteUser<typeof live>>().toEqualTypeOf<User>();
    expectTypeOf<RouteEventName<typeof live>>().toEqualTypeOf<"join">();
    expectTypeOf<RouteEmits<typeof live>>().toEqualTypeOf<{ said: { text: string } }>();
    expectTypeOf(live).toExtend<AnyWssRoute>();
  });

  test("a route without it, or with broadcast false, does not broadcast", () => {
    const quiet = defineWssRoute({ events: { ping: () => "pong" } });
    expectTypeOf<RoutePresenceBroadcast<typeof quiet>>().toEqualTypeOf<false>();
    const off = defineWssRoute({ presence: { broadcast: false }, events: {} });
    expectTypeOf<RoutePresenceBroadcast<typeof off>>().toEqualTypeOf<false>();
    const empty = defineWssRoute({ presence: {}, events: {} });
    expectTypeOf<RoutePresenceBroadcast<typeof empty>>().toEqualTypeOf<false>();
  });

  test("a route whose type is unknown may broadcast", () => {
    expectTypeOf<RoutePresenceBroadcast<AnyWssRoute>>().toEqualTypeOf<true>();
    expectTypeOf<RoutePresenceBroadcast<unknown>>().toEqualTypeOf<true>();
  });

  test("the option is typed", () => {
    // @ts-expect-error: broadcast is a boolean
    defineWssRoute({ presence: { broadcast: "yes" }, events: {} });
    // @ts-expect-error: no such presence option
    defineWssRoute({ presence: { broadcast: true, snapshot: true }, events: {} });
  });

  test("what __loly:presence carries: joined or left, and the snapshot", () => {
    expectTypeOf<{ room: "a"; joined: "u1" }>().toExtend<PresenceDiff>();
    expectTypeOf<{ room: "a"; left: "u1" }>().toExtend<PresenceDiff>();
    expectTypeOf<{ room: "a" }>().not.toExtend<PresenceDiff>();
    expectTypeOf<{ room: "a"; joined: "u1"; left: "u2" }>().not.toExtend<PresenceDiff>();
    expectTypeOf<PresenceSnapshot>().toEqualTypeOf<{ room: string; users: string[] }>();
  });
});
