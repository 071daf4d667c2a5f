import * as v from "valibot";
import { describe, expectTypeOf, test } from "vitest";
import { z } from "zod";
import type { WssContext } from "./context.js";
import {
  defineWssRoute,
  type AnyWssRoute,
  type RouteEventInput,
  type RouteEventName,
  type RouteEventResult,
  type RouteUser,
  type WssHandler,
} from "./route.js";

interface User {
  id: string;
  name: string;
}

declare function verify(token: unknown): Promise<User | null>;

const route = defineWssRoute({
  auth: async ({ handshake }) => verify(handshake.auth.token),
  onConnect: (ctx) => {
    expectTypeOf(ctx.user).toEqualTypeOf<User | null>();
  },
  onDisconnect: (ctx) => {
    expectTypeOf(ctx.reason).toEqualTypeOf<string | undefined>();
  },
  events: {
    ping: (ctx) => {
      expectTypeOf(ctx.data).toBeUnknown();
      expectTypeOf(ctx.user).toEqualTypeOf<User | null>();
      return "pong";
    },
    message: {
      schema: z.object({ text: z.string().max(500) }),
      guard: ({ user, data }) => {
        expectTypeOf(user).toEqualTypeOf<User | null>();
        expectTypeOf(data).toEqualTypeOf<{ text: string }>();
        return user !== null;
      },
      rateLimit: { eventsPerSecond: 5, burst: 10 },
      handler: async (ctx) => {
        expectTypeOf(ctx.data).toEqualTypeOf<{ text: string }>();
        ctx.actions.toRoom("lobby").emit("message", ctx.data);
        return { id: 1, text: ctx.data.text, by: ctx.user?.name };
      },
    },
    // zod transform: the client sends a string, the handler sees a number.
    zodLength: {
      schema: z.string().transform((s) => s.length),
      handler: (ctx) => {
        expectTypeOf(ctx.data).toEqualTypeOf<number>();
        return ctx.data > 3;
      },
    },
    // valibot transform: input { n: string }, output { n: number }.
    valibotNumber: {
      schema: v.object({ n: v.pipe(v.string(), v.transform(Number)) }),
      guard: (ctx) => {
        expectTypeOf(ctx.data).toEqualTypeOf<{ n: number }>();
        return true;
      },
      handler: (ctx) => {
        expectTypeOf(ctx.data).toEqualTypeOf<{ n: number }>();
        return [ctx.data.n] as const;
      },
    },
    noSchema: {
      requireAuth: true,
      handler(ctx) {
        expectTypeOf(ctx.data).toBeUnknown();
      },
    },
    asyncMethod: {
      schema: v.string(),
      async handler(ctx) {
        expectTypeOf(ctx.data).toEqualTypeOf<string>();
        return ctx.data.toUpperCase();
      },
    },
  },
});

type Route = typeof route;

describe("defineWssRoute", () => {
  test("ctx.user comes from auth (null possible)", () => {
    expectTypeOf<RouteUser<Route>>().toEqualTypeOf<User>();
    const anonymous = defineWssRoute({
      events: {
        hi: (ctx) => {
          expectTypeOf(ctx.user).toEqualTypeOf<null>();
        },
      },
    });
    expectTypeOf<RouteUser<typeof anonymous>>().toBeNull();
    expectTypeOf(anonymous).toExtend<AnyWssRoute>();
  });

  test("the route keeps every event name", () => {
    expectTypeOf<RouteEventName<Route>>().toEqualTypeOf<"ping" | "message" | "zodLength" | "valibotNumber" | "noSchema" | "asyncMethod">();
    expectTypeOf<RouteEventName<AnyWssRoute>>().toEqualTypeOf<string>();
  });

  test("payload types are the schema inputs", () => {
    expectTypeOf<RouteEventInput<Route, "message">>().toEqualTypeOf<{ text: string }>();
    expectTypeOf<RouteEventInput<Route, "zodLength">>().toEqualTypeOf<string>();
    expectTypeOf<RouteEventInput<Route, "valibotNumber">>().toEqualTypeOf<{ n: string }>();
    expectTypeOf<RouteEventInput<Route, "ping">>().toBeUnknown();
    expectTypeOf<RouteEventInput<Route, "noSchema">>().toBeUnknown();
  });

  test("result types are the handlers' awaited returns", () => {
    expectTypeOf<RouteEventResult<Route, "ping">>().toEqualTypeOf<string>();
    expectTypeOf<RouteEventResult<Route, "message">>().toEqualTypeOf<{
      id: number;
      text: string;
      by: string | undefined;
    }>();
    expectTypeOf<RouteEventResult<Route, "zodLength">>().toEqualTypeOf<boolean>();
    expectTypeOf<RouteEventResult<Route, "valibotNumber">>().toEqualTypeOf<readonly [number]>();
    expectTypeOf<RouteEventResult<Route, "noSchema">>().toEqualTypeOf<void>();
    expectTypeOf<RouteEventResult<Route, "asyncMethod">>().toEqualTypeOf<string>();
    expectTypeOf<RouteEventResult<AnyWssRoute, "anything">>().toBeUnknown();
  });

  test("a declared handler return type is kept", () => {
    const r = defineWssRoute({
      events: {
        count: async (): Promise<number | null> => null,
        typed: { schema: z.number(), handler: (ctx: WssContext<number, null>): string => String(ctx.data) },
      },
    });
    expectTypeOf<RouteEventResult<typeof r, "count">>().toEqualTypeOf<number | null>();
    expectTypeOf<RouteEventResult<typeof r, "typed">>().toEqualTypeOf<string>();
  });

  test("the spec's example compiles unchanged", () => {
    const verifyToken = async (_headers: unknown, _auth: unknown): Promise<{ id: string } | null> => null;
    const r = defineWssRoute({
      auth: async (ctx) => verifyToken(ctx.req.headers, ctx.handshake.auth), // -> user | null
      onConnect: (ctx) => ctx.actions.join("lobby"),
      onDisconnect: (_ctx) => {},
      events: {
        ping: (_ctx) => "pong", // bare handler
        message: {
          schema: z.object({ text: z.string().max(500) }), // zod, valibot, or any Standard Schema
          guard: ({ user }) => !!user,
          rateLimit: { eventsPerSecond: 5, burst: 10 },
          handler: async (ctx) => {
            ctx.actions.toRoom("lobby").emit("message", ctx.data);
          },
        },
      },
    });
    expectTypeOf<RouteUser<typeof r>>().toEqualTypeOf<{ id: string }>();
    expectTypeOf<RouteEventInput<typeof r, "message">>().toEqualTypeOf<{ text: string }>();
    expectTypeOf<RouteEventResult<typeof r, "message">>().toBeVoid();
    expectTypeOf<RouteEventResult<typeof r, "ping">>().toBeString();
  });

  test("handlers declared apart keep their types", () => {
    const send: WssHandler<{ text: string }, User, number> = (ctx) => ctx.data.text.length;
    const r = defineWssRoute({
      auth: (): User | null => null,
      events: { send: { schema: z.object({ text: z.string() }), handler: send } },
    });
    expectTypeOf<RouteEventResult<typeof r, "send">>().toBeNumber();
  });

  test("the order of the keys does not matter, destructuring works", () => {
    const r = defineWssRoute({
      events: {
        late: {
          handler: async ({ data, user }) => {
            expectTypeOf(user).toBeNull();
            return data.n;
          },
          guard: ({ data }) => data.n > 0,
          schema: z.object({ n: z.number() }),
        },
      },
    });
    expectTypeOf<RouteEventResult<typeof r, "late">>().toBeNumber();
    expectTypeOf<RouteEventInput<typeof r, "late">>().toEqualTypeOf<{ n: number }>();
  });

  test("an empty route is a route", () => {
    const r = defineWssRoute({ events: {} });
    expectTypeOf(r).toExtend<AnyWssRoute>();
    expectTypeOf<RouteEventName<typeof r>>().toBeNever();
  });

  test("routes are assignable to the generic route types", () => {
    expectTypeOf(route).toExtend<AnyWssRoute>();
  });

  test("structural mistakes are type errors", () => {
    defineWssRoute({
      events: {
        // @ts-expect-error: the handler is missing (typo)
        typo: { schema: z.string(), handlr: () => 1 },
      },
    });
    defineWssRoute({
      events: {
        // @ts-expect-error: unknown event option
        extra: { handler: () => 1, retries: 3 },
      },
    });
    defineWssRoute({
      events: {
        bad: {
          schema: z.object({ text: z.string() }),
          // @ts-expect-error: ctx.data has no `count`
          handler: (ctx) => ctx.data.count,
        },
      },
    });
    defineWssRoute({
      events: {
        // @ts-expect-error: a guard returns a boolean
        g: { guard: () => "yes", handler: () => 1 },
      },
    });
    defineWssRoute({
      // @ts-expect-error: unknown route key
      onconnect: () => {},
      events: {},
    });
    defineWssRoute({
      events: {
        // @ts-expect-error: a bare handler's payload is unknown
        bare: (ctx) => ctx.data.text,
      },
    });
  });
});
