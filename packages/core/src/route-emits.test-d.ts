import * as v from "valibot";
import { describe, expectTypeOf, test } from "vitest";
import { z } from "zod";
import type { WssActions, WssContext, WssTarget } from "./context.js";
import { defineWssRoute, type AnyWssRoute, type EmitPayloads, type RouteEmits, type RouteEventInput, type RouteUser } from "./route.js";

interface User {
  id: string;
  name: string;
}

const said = z.object({ from: z.string(), text: z.string() });

const route = defineWssRoute({
  auth: (): User | null => null,
  emits: {
    said,
    typing: v.string(),
    // zod transform: the server sends (and the client receives) the input, a string
    count: z.string().transform((s) => s.length),
    bye: z.undefined(),
    maybe: z.number().optional(),
  },
  onConnect: (ctx) => {
    ctx.actions.reply("typing", "someone");
    // @ts-expect-error: not declared in emits
    ctx.actions.reply("welcome", {});
  },
  onDisconnect: (ctx) => {
    ctx.actions.broadcast("bye");
    // @ts-expect-error: typing carries a string
    ctx.actions.broadcast("typing", 1);
  },
  events: {
    say: {
      schema: z.object({ text: z.string() }),
      guard: (ctx) => {
        // @ts-expect-error: a guard's actions are typed too
        ctx.actions.emit("sad", { from: "", text: "" });
        return true;
      },
      handler: (ctx) => {
        ctx.actions.emit("said", { from: ctx.user?.name ?? "?", text: ctx.data.text });
        ctx.actions.broadcast("said", { from: "a", text: "b" });
        ctx.actions.reply("said", { from: "a", text: "b" });
        ctx.actions.toRoom("lobby").emit("said", { from: "a", text: "b" });
        ctx.actions.toRoom("lobby").broadcast("typing", "ada");
        ctx.actions.toUser("42").emit("count", "abc");
        ctx.actions.toUser("42").broadcast("maybe");
        return ctx.data.text.length;
      },
    },
    wrong: (ctx) => {
      // @ts-expect-error: no such server event
      ctx.actions.emit("sadi", { from: "a", text: "b" });
      // @ts-expect-error: text missing
      ctx.actions.broadcast("said", { from: "a" });
      // @ts-expect-error: text must be a string
      ctx.actions.reply("said", { from: "a", text: 1 });
      // @ts-expect-error: a key the schema does not have
      ctx.actions.toRoom("r").emit("said", { from: "a", text: "b", extra: true });
      // @ts-expect-error: the payload is required
      ctx.actions.toUser("1").emit("said");
      // @ts-expect-error: the input of a transforming schema (a string), not its output
      ctx.actions.emit("count", 3);
      // @ts-expect-error: toRoom().broadcast is typed too
      ctx.actions.toRoom("r").broadcast("typo", 1);
      // @ts-expect-error: toUser().broadcast is typed too
      ctx.actions.toUser("1").broadcast("typing", null);
      // @ts-expect-error: bye carries nothing
      ctx.actions.emit("bye", "x");
    },
  },
});

describe("emits", () => {
  test("the route keeps its emits as payload types (schema inputs)", () => {
    expectTypeOf<RouteEmits<typeof route>>().toEqualTypeOf<{
      said: { from: string; text: string };
      typing: string;
      count: string;
      bye: undefined;
      maybe: number | undefined;
    }>();
    expectTypeOf<RouteUser<typeof route>>().toEqualTypeOf<User>();
    expectTypeOf<RouteEventInput<typeof route, "say">>().toEqualTypeOf<{ text: string }>();
    expectTypeOf(route).toExtend<AnyWssRoute>();
  });

  test("a route without emits keeps the loose typing", () => {
    const loose = defineWssRoute({
      events: {
        anything: (ctx) => {
          ctx.actions.emit("whatever", { a: 1 });
          ctx.actions.reply("x");
          ctx.actions.toRoom("r").emit("y", 1);
          ctx.actions.toUser("u").broadcast("z", null);
          expectTypeOf(ctx.actions).toEqualTypeOf<WssActions>();
        },
      },
    });
    expectTypeOf<RouteEmits<typeof loose>>().toEqualTypeOf<Record<string, unknown>>();
    expectTypeOf<RouteEmits<AnyWssRoute>>().toEqualTypeOf<Record<string, unknown>>();
  });

  test("emits: {} sends nothing", () => {
    defineWssRoute({
      emits: {},
      events: {
        // @ts-expect-error: nothing is declared
        a: (ctx) => ctx.actions.emit("x", 1),
      },
    });
  });

  test("the order of the keys does not matter", () => {
    defineWssRoute({
      events: {
        late: (ctx) => {
          ctx.actions.emit("hello", { n: 1 });
          // @ts-expect-error: n is a number
          ctx.actions.emit("hello", { n: "1" });
        },
      },
      emits: { hello: z.object({ n: z.number() }) },
    });
  });

  test("helpers typed with the route's emits, and loose helpers, take its context", () => {
    type ChatEmits = EmitPayloads<{ said: typeof said }>;
    const typed = (ctx: WssContext<unknown, User, ChatEmits>): void => ctx.actions.emit("said", { from: "a", text: "b" });
    const loose = (ctx: WssContext<unknown, User>): void => ctx.actions.emit("anything", 1);
    const target = (t: WssTarget<ChatEmits>): void => {
      t.emit("said", { from: "a", text: "b" });
      // @ts-expect-error: a typed target checks the name
      t.emit("nope", 1);
    };
    defineWssRoute({
      auth: (): User | null => null,
      emits: { said },
      events: {
        a: (ctx) => {
          typed(ctx);
          loose(ctx);
          target(ctx.actions.toRoom("r"));
        },
      },
    });
  });

  test("emits must be schemas", () => {
    defineWssRoute({
      // @ts-expect-error: not a schema
      emits: { said: "string" },
      events: {},
    });
  });
});
