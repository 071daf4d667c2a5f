import { defineWssRoute } from "@loly-rt/core";
import { describe, expectTypeOf, test } from "vitest";
import type chatRoute from "./fixtures/chat-route.js";
import { lolySocket, type LolyClientError, type LolyPresence, type LolyPresenceChange, type LolySocket } from "./index.js";

const live = defineWssRoute({
  presence: { broadcast: true },
  events: { join: (ctx) => ctx.actions.join("lobby") },
});
const off = defineWssRoute({ presence: { broadcast: false }, events: {} });

describe("lolySocket().presence(room)", () => {
  test("a route with presence: { broadcast: true } has the live list", () => {
    const c = lolySocket<typeof live>("/live", { url: "http://localhost:3000" });
    const lobby = c.presence("lobby");
    expectTypeOf(lobby).toEqualTypeOf<LolyPresence>();
    expectTypeOf(lobby.users).toEqualTypeOf<readonly string[]>();
    expectTypeOf(lobby.has("u1")).toBeBoolean();
    expectTypeOf(lobby.synced).toBeBoolean();
    expectTypeOf(lobby.ready()).toEqualTypeOf<Promise<void>>();
    lobby.onChange((users, change) => {
      expectTypeOf(users).toEqualTypeOf<readonly string[]>();
      expectTypeOf(change).toEqualTypeOf<LolyPresenceChange>();
    });
    lobby.onError((err) => expectTypeOf(err).toEqualTypeOf<LolyClientError>());
    // @ts-expect-error: a room is a string
    c.presence(42);
    // @ts-expect-error: users is read only
    lobby.users.push("x");
  });

  test("a change is a join, a departure or a snapshot", () => {
    expectTypeOf<{ joined: string }>().toExtend<LolyPresenceChange>();
    expectTypeOf<{ left: string }>().toExtend<LolyPresenceChange>();
    expectTypeOf<{ synced: true }>().toExtend<LolyPresenceChange>();
  });

  test("a route without it has none", () => {
    const quiet = lolySocket<typeof chatRoute>("/chat", { url: "http://localhost:3000" });
    // @ts-expect-error: the route does not broadcast presence
    quiet.presence("lobby");
    const c = lolySocket<typeof off>("/off", { url: "http://localhost:3000" });
    // @ts-expect-error: broadcast is false
    c.presence("lobby");
  });

  test("a client without a route type may ask (the server answers UNKNOWN_EVENT if the route does not broadcast)", () => {
    const loose = lolySocket("/any", { url: "http://localhost:3000" });
    expectTypeOf(loose.presence("lobby")).toEqualTypeOf<LolyPresence>();
    expectTypeOf<LolySocket<typeof live>>().toExtend<LolySocket>();
  });
});
