import type { ConnectErrorCode, LolyErrorEvent } from "@loly-rt/core";
import type { Socket } from "socket.io-client";
import { describe, expectTypeOf, test } from "vitest";
import { defineWssRoute } from "@loly-rt/core";
import type chatRoute from "./fixtures/chat-route.js";
import {
  lolySocket,
  LolyClientError,
  type LolyClientErrorCode,
  type LolyConnectionState,
  type LolyConnectRefusal,
  type LolySocket,
} from "./index.js";

declare const chat: LolySocket<typeof chatRoute, { message: { text: string; by: string }; typing: string }>;
declare const loose: LolySocket;

describe("lolySocket types", () => {
  test("lolySocket takes the route type and returns a typed client", () => {
    const c = lolySocket<typeof chatRoute>("/chat", { url: "http://localhost:3000", auth: { token: "t" } });
    expectTypeOf(c).toEqualTypeOf<LolySocket<typeof chatRoute>>();
    expectTypeOf(c.socket).toEqualTypeOf<Socket>();
    expectTypeOf(c.connected).toBeBoolean();
    expectTypeOf(c.ready()).toEqualTypeOf<Promise<void>>();
    lolySocket("/chat", { url: "http://x", path: "/wss", transports: ["websocket"], reconnection: false });
    lolySocket("/chat", { auth: async () => ({ token: "t" }) });
    lolySocket("/chat", { auth: (cb) => cb({ token: "t" }) });
    // @ts-expect-error: not an option
    lolySocket("/chat", { urll: "http://x" });
  });

  test("request resolves with the handler's awaited result", () => {
    expectTypeOf(chat.request("ping")).toEqualTypeOf<Promise<"pong">>();
    expectTypeOf(chat.request("message", { text: "hi" })).toEqualTypeOf<Promise<{ id: number; text: string; by: string }>>();
    expectTypeOf(chat.request("resize", "42")).resolves.toEqualTypeOf<{ width: number }>();
    expectTypeOf(chat.request("schedule", { at: "2030-01-01" })).resolves.toBeNumber();
    expectTypeOf(chat.request("leave")).resolves.toBeVoid();
  });

  test("a wrong use of the result is a type error", async () => {
    const sent = await chat.request("message", { text: "hi" });
    // @ts-expect-error: the result has no `txt`
    sent.txt;
    // @ts-expect-error: `id` is a number
    sent.id.toUpperCase();
    const width: number = (await chat.request("resize", "1")).width;
    // @ts-expect-error: a number is not a string
    const wrong: string = (await chat.request("resize", "1")).width;
    void width;
    void wrong;
  });

  test("event names are checked", () => {
    // @ts-expect-error: no such event
    chat.emit("mesage", { text: "hi" });
    // @ts-expect-error: no such event
    void chat.request("nope");
    chat.emit("ping");
  });

  test("payloads are the schema's input type", () => {
    chat.emit("message", { text: "hi", room: "lobby" });
    void chat.request("resize", "12", { timeoutMs: 1000 });
    void chat.request("schedule", { at: "2030-01-01T00:00:00Z" });
    void chat.request("ping", undefined, { timeoutMs: 50 });
    // @ts-expect-error: text must be a string
    chat.emit("message", { text: 1 });
    // @ts-expect-error: payload required
    chat.emit("message");
    // @ts-expect-error: unknown key
    chat.emit("message", { text: "hi", extra: true });
    // @ts-expect-error: the input is a string (the number is the output)
    void chat.request("resize", 12);
    // @ts-expect-error: the input is a string, not a Date (the Date is the output)
    void chat.request("schedule", { at: new Date() });
    // @ts-expect-error: timeoutMs is a number
    void chat.request("resize", "1", { timeoutMs: "1s" });
  });

  test("server events are typed when declared", () => {
    chat.on("message", (m) => {
      expectTypeOf(m).toEqualTypeOf<{ text: string; by: string }>();
    });
    const off = chat.on("typing", (who) => expectTypeOf(who).toBeString());
    expectTypeOf(off).toEqualTypeOf<() => void>();
    // @ts-expect-error: not a declared server event
    chat.on("typo", () => {});
    chat.onError((e) => {
      expectTypeOf(e).toEqualTypeOf<LolyErrorEvent | LolyConnectRefusal>();
      // A refusal of a connection attempt tells itself apart by its event.
      if ("refused" in e) expectTypeOf(e.code).toEqualTypeOf<ConnectErrorCode>();
    });
    expectTypeOf(chat.state).toEqualTypeOf<LolyConnectionState>();
    expectTypeOf(chat.recovered).toEqualTypeOf<boolean>();
  });

  test("on() is typed from the route's emits, with no second type parameter", () => {
    const c = lolySocket<typeof chatRoute>("/chat", { url: "http://x" });
    c.on("said", (m) => expectTypeOf(m).toEqualTypeOf<{ id: number; text: string; by: string }>());
    c.on("typing", (who) => expectTypeOf(who).toBeString());
    // the schema's input: what the server sends is what arrives
    c.on("size", (s) => expectTypeOf(s).toBeString());
    c.on("cleared", (p) => expectTypeOf(p).toBeUndefined());
    c.off("said");
    // @ts-expect-error: not in the route's emits
    c.on("message", () => {});
    // @ts-expect-error: a wrong payload type in the listener
    c.on("typing", (who: number) => who);
    // @ts-expect-error: off is typed too
    c.off("typo");
  });

  test("the second type parameter overrides the route's emits", () => {
    chat.on("typing", (who) => expectTypeOf(who).toBeString());
    // @ts-expect-error: the override replaces the route's emits
    chat.on("said", () => {});
  });

  test("a route without emits: any server event, unknown payload", () => {
    const plain = defineWssRoute({ events: { ping: () => "pong" } });
    const c = lolySocket<typeof plain>("/plain", { url: "http://x" });
    c.on("anything", (p) => expectTypeOf(p).toBeUnknown());
    expectTypeOf(c.request("ping")).resolves.toBeString();
  });

  test("without a route type: any event, unknown payloads and results", () => {
    loose.emit("anything", { a: 1 });
    loose.emit("anything");
    expectTypeOf(loose.request("anything", 1)).toEqualTypeOf<Promise<unknown>>();
    loose.on("whatever", (p) => expectTypeOf(p).toBeUnknown());
  });

  test("a typed client is usable where an untyped one is expected", () => {
    expectTypeOf(chat).toExtend<LolySocket>();
  });

  test("errors carry a code union", () => {
    const err = new LolyClientError("TIMEOUT", "late");
    expectTypeOf(err.code).toEqualTypeOf<LolyClientErrorCode>();
    expectTypeOf<"RATE_LIMIT" | "UNAUTHORIZED" | "DISCONNECTED">().toExtend<LolyClientErrorCode>();
    // @ts-expect-error: not a code
    new LolyClientError("NOPE", "x");
  });
});
