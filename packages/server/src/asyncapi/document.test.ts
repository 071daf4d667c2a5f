import * as v from "valibot";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineWssRoute, type AnyWssRoute, type LolyError } from "@loly-rt/core";
import { resolveConfig } from "../config/index.js";
import { startServer, type TestServer } from "../test-helpers.js";
import { buildAsyncApi, createAsyncApiDocument } from "./index.js";

// biome-ignore lint/suspicious/noExplicitAny: the tests read the JSON document by path
type Json = Record<string, any>;

const { config } = resolveConfig({}, {});
const doc = (routes: Record<string, AnyWssRoute>, input = config): Json =>
  buildAsyncApi(
    Object.entries(routes).map(([pattern, route]) => ({ pattern, route })),
    input,
  ) as Json;
/** Follows a local `$ref` (`#/a/b`) in `d`. */
const resolve = (d: Json, ref: { $ref: string }): Json =>
  ref.$ref
    .slice(2)
    .split("/")
    .reduce((node: Json, key) => node[key], d);

interface Tree {
  name: string;
  children: Tree[];
}
const tree: z.ZodType<Tree> = z.lazy(() => z.object({ name: z.string(), children: z.array(tree) }));

const chat = defineWssRoute({
  auth: ({ handshake }) => (typeof handshake.auth.token === "string" ? { id: handshake.auth.token } : null),
  emits: {
    said: z.object({ from: z.string(), text: z.string() }),
    typing: v.string(),
  },
  events: {
    ping: () => "pong",
    say: {
      schema: z.object({ text: z.string().max(500) }),
      guard: ({ user }) => user !== null,
      rateLimit: { eventsPerSecond: 2, burst: 4, scope: "user" },
      requireAuth: true,
      handler: (ctx) => ctx.data.text,
    },
    resize: { schema: v.object({ width: v.pipe(v.string(), v.transform(Number)) }), handler: (ctx) => ctx.data.width },
    tree: { schema: tree, handler: () => 1 },
  },
});

describe("the AsyncAPI document", () => {
  it("is AsyncAPI 3.0 with one channel per namespace, the server at config.path", () => {
    const d = doc({ "/chat": chat, "/": defineWssRoute({ events: {} }) });
    expect(d.asyncapi).toBe("3.0.0");
    expect(d.info).toMatchObject({ title: "Loly Realtime API", version: "1.0.0" });
    expect(d.servers.realtime).toMatchObject({ host: "localhost:3000", protocol: "ws", pathname: "/wss" });
    expect(Object.keys(d.channels)).toEqual(["root", "chat"]);
    expect(d.channels.chat).toMatchObject({ address: "/chat", title: "/chat", "x-loly-auth": "optional" });
    expect(d.channels.root.address).toBe("/");
  });

  it("describes each client event: its payload's JSON Schema (the input), its acknowledgement and error codes", () => {
    const d = doc({ "/chat": chat });
    const op = d.operations["chat.receive.say"];
    expect(op).toMatchObject({ action: "receive", channel: { $ref: "#/channels/chat" } });
    const message = resolve(d, op.messages[0]);
    expect(message.name).toBe("say");
    expect(resolve(d, message.payload)).toEqual({
      type: "object",
      properties: { text: { type: "string", maxLength: 500 } },
      required: ["text"],
    });
    const ack = resolve(d, op.reply.messages[0]);
    expect(op.reply.channel).toEqual({ $ref: "#/channels/chat" });
    expect(ack["x-loly-error-codes"]).toEqual(["BAD_PAYLOAD", "UNAUTHORIZED", "FORBIDDEN", "RATE_LIMIT", "INTERNAL", "UNAVAILABLE"]);
    expect(ack.payload.oneOf[0].properties.ok).toEqual({ const: true });
    expect(resolve(d, ack.payload.oneOf[1])).toMatchObject({ properties: { ok: { const: false } } });
    expect(d.components.schemas.LolyErrorBody.properties.code.enum).toContain("RATE_LIMIT");
    // without guard or requireAuth, those codes cannot come
    expect(resolve(d, d.operations["chat.receive.ping"].reply.messages[0])["x-loly-error-codes"]).toEqual([
      "BAD_PAYLOAD",
      "RATE_LIMIT",
      "INTERNAL",
      "UNAVAILABLE",
    ]);
    // no schema: any payload, said so
    expect(resolve(d, resolve(d, d.operations["chat.receive.ping"].messages[0]).payload)).toEqual({
      description: "Any value: the event has no schema.",
    });
    // valibot, input mode: the client sends a string
    expect(resolve(d, resolve(d, d.operations["chat.receive.resize"].messages[0]).payload)).toEqual({
      type: "object",
      properties: { width: { type: "string" } },
      required: ["width"],
    });
  });

  it("keeps a recursive schema's references resolvable where the schema is placed", () => {
    const d = doc({ "/chat": chat });
    const ref = resolve(d, d.operations["chat.receive.tree"].messages[0]).payload;
    const text = JSON.stringify(resolve(d, ref));
    const refs = [...text.matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] as string);
    expect(refs.length).toBeGreaterThan(0);
    for (const r of refs) {
      expect(r.startsWith(`${ref.$ref}`)).toBe(true);
      expect(resolve(d, { $ref: r })).toBeTypeOf("object");
    }
  });

  it("states every schema it cannot express, with the reason, and drops none", () => {
    const safeParseOnly = { safeParse: (x: unknown) => ({ success: true as const, data: x }) };
    const zod3Like = { "~standard": { version: 1 as const, vendor: "zod", validate: (value: unknown) => ({ value }) } };
    const d = doc({
      "/odd": defineWssRoute({
        emits: { when: z.date() },
        events: {
          at: { schema: z.object({ at: z.date() }), handler: () => 1 },
          custom: { schema: v.custom<string>((x) => typeof x === "string"), handler: () => 1 },
          plain: { schema: safeParseOnly, handler: () => 1 },
          old: { schema: zod3Like, handler: () => 1 },
        },
      }),
    });
    const reasons = Object.fromEntries(
      ["at", "custom", "plain", "old"].map((e) => [e, resolve(d, resolve(d, d.operations[`odd.receive.${e}`].messages[0]).payload)]),
    );
    expect(reasons.at?.["x-loly-not-expressible"]).toMatch(/^zod: .*Date/);
    expect(reasons.custom?.["x-loly-not-expressible"]).toMatch(/^valibot: .*custom/);
    expect(reasons.plain?.["x-loly-not-expressible"]).toBe("a schema with safeParse/parse only: its shape cannot be read");
    expect(reasons.old?.["x-loly-not-expressible"]).toBe("zod 3 schemas have no JSON Schema converter (zod 4 has one)");
    for (const r of Object.values(reasons)) expect(r.description).toMatch(/^Not expressible in JSON Schema \(/);
    const when = resolve(d, resolve(d, d.operations["odd.send.when"].messages[0]).payload);
    expect(when["x-loly-not-expressible"]).toMatch(/Date/);
  });

  it("lists the route's emits as send operations, and __loly:error", () => {
    const d = doc({ "/chat": chat });
    expect(d.operations["chat.send.said"]).toMatchObject({ action: "send" });
    const said = resolve(d, d.operations["chat.send.said"].messages[0]);
    expect(said.name).toBe("said");
    expect(resolve(d, said.payload)).toMatchObject({ properties: { from: { type: "string" }, text: { type: "string" } } });
    expect(resolve(d, resolve(d, d.operations["chat.send.typing"].messages[0]).payload)).toEqual({ type: "string" });
    expect(resolve(d, d.operations["chat.send.loly_error"].messages[0]).name).toBe("__loly:error");
    expect(resolve(d, d.operations["chat.send.loly_offset"].messages[0]).name).toBe("__loly:offset");
    // a route without emits says what it does not describe
    const plain = doc({ "/plain": defineWssRoute({ events: { ping: () => 1 } }) });
    expect(plain.channels.plain.description).toContain("declares no `emits`");
    expect(Object.keys(plain.operations)).toEqual(["plain.receive.ping", "plain.send.loly_error", "plain.send.loly_offset"]);
  });

  it("describes live presence both ways for a route with presence: { broadcast: true }, and only there", () => {
    const d = doc({ "/live": defineWssRoute({ presence: { broadcast: true }, events: { ping: () => 1 } }), "/chat": chat });
    expect(Object.keys(d.operations).filter((k) => k.includes("loly_presence"))).toEqual([
      "live.send.loly_presence",
      "live.receive.loly_presence",
    ]);
    const diff = resolve(d, d.operations["live.send.loly_presence"].messages[0]);
    expect(diff.name).toBe("__loly:presence");
    expect(resolve(d, diff.payload).oneOf.map((o: Json) => o.required)).toEqual([
      ["room", "joined"],
      ["room", "left"],
    ]);
    const receive = d.operations["live.receive.loly_presence"];
    expect(resolve(d, resolve(d, receive.messages[0]).payload)).toMatchObject({ required: ["room"] });
    const ack = resolve(d, receive.reply.messages[0]);
    expect(ack["x-loly-error-codes"]).toEqual(["BAD_PAYLOAD", "FORBIDDEN", "RATE_LIMIT", "UNAVAILABLE", "INTERNAL"]);
    expect(resolve(d, ack.payload.oneOf[0].properties.data)).toMatchObject({
      required: ["room", "users"],
      properties: { users: { type: "array", items: { type: "string" } } },
    });
    // Without the option: neither the operations nor the schemas.
    const quiet = doc({ "/chat": chat });
    expect(Object.keys(quiet.operations).some((k) => k.includes("loly_presence"))).toBe(false);
    expect(Object.keys(quiet.components.schemas).some((k) => k.startsWith("LolyPresence"))).toBe(false);
  });

  it("says the same event name apart when the client sends it and the server emits it", () => {
    const d = doc({
      "/c": defineWssRoute({ emits: { message: z.string() }, events: { message: { schema: z.number(), handler: () => 1 } } }),
    });
    expect(resolve(d, resolve(d, d.operations["c.receive.message"].messages[0]).payload)).toEqual({ type: "number" });
    expect(resolve(d, resolve(d, d.operations["c.send.message"].messages[0]).payload)).toEqual({ type: "string" });
  });

  it("describes auth: required (security on every event), optional, none", () => {
    const d = doc({
      "/members": defineWssRoute({ auth: () => ({ id: "1" }), requireAuth: true, events: { a: () => 1 } }),
      "/chat": chat,
      "/open": defineWssRoute({ events: { a: () => 1 } }),
    });
    expect(d.channels.members["x-loly-auth"]).toBe("required");
    expect(d.operations["members.receive.a"].security).toEqual([{ $ref: "#/components/securitySchemes/handshake" }]);
    expect(d.components.securitySchemes.handshake).toMatchObject({ type: "apiKey", in: "user" });
    expect(d.operations["chat.receive.say"].security).toHaveLength(1);
    expect(d.operations["chat.receive.ping"].security).toBeUndefined();
    expect(d.channels.open["x-loly-auth"]).toBe("none");
  });

  it("gives the rate limits: the global bucket everywhere, an event's own where it has one", () => {
    const d = doc({ "/chat": chat }, resolveConfig({ limits: { eventsPerSecond: 10, burst: 20, scope: "ip" } }, {}).config);
    expect(d.operations["chat.receive.say"]["x-loly-rate-limit"]).toEqual({
      global: { eventsPerSecond: 10, burst: 20, scope: "ip" },
      event: { eventsPerSecond: 2, burst: 4, scope: "user" },
    });
    expect(d.operations["chat.receive.ping"]["x-loly-rate-limit"]).toEqual({ global: { eventsPerSecond: 10, burst: 20, scope: "ip" } });
    expect(d.operations["chat.receive.say"].description).toContain("own bucket: 2 events/s, burst 4, per user");
    expect(d.servers.realtime["x-loly-rate-limit"]).toEqual({ eventsPerSecond: 10, burst: 20, scope: "ip" });
  });

  it("turns [param] segments into channel parameters", () => {
    const d = doc({ "/rooms/[id]": defineWssRoute({ events: { a: () => 1 } }) });
    expect(d.channels.rooms_id).toMatchObject({ address: "/rooms/{id}", title: "/rooms/[id]", parameters: { id: {} } });
    expect(d.operations["rooms_id.receive.a"].channel).toEqual({ $ref: "#/channels/rooms_id" });
  });

  it("leaves __loly:offset out when recovery is off", () => {
    const d = doc({ "/chat": chat }, resolveConfig({ recovery: false }, {}).config);
    expect(d.operations["chat.send.loly_offset"]).toBeUndefined();
  });

  it("takes the application's title, version, host and protocol", async () => {
    const d = (await createAsyncApiDocument({
      routes: { "/chat": chat },
      config: { path: "/rt" },
      title: "Chat",
      version: "2.1.0",
      host: "chat.example.com",
      protocol: "wss",
    })) as Json;
    expect(d.info).toMatchObject({ title: "Chat", version: "2.1.0" });
    expect(d.servers.realtime).toMatchObject({ host: "chat.example.com", protocol: "wss", pathname: "/rt" });
  });

  it("refuses routes and configurations as the server does", async () => {
    await expect(createAsyncApiDocument({ routes: { "/x": { events: [] } as never } })).rejects.toMatchObject({ code: "INVALID_ROUTE" });
    await expect(createAsyncApiDocument({ config: { limits: { burst: -1 } } })).rejects.toMatchObject({ code: "INVALID_CONFIG" });
  });
});

describe("rt.asyncapi() and docs.asyncapiPath", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("rt.asyncapi() is the document of the server's routes and configuration", async () => {
    server = await startServer({ "/chat": chat }, { limits: { eventsPerSecond: 7, burst: 9 } });
    expect(server.rt.asyncapi({ title: "T" })).toEqual(
      await createAsyncApiDocument({ routes: { "/chat": chat }, config: { limits: { eventsPerSecond: 7, burst: 9 } }, title: "T" }),
    );
  });

  it("is served at docs.asyncapiPath (GET), pointing at the host asked", async () => {
    server = await startServer({ "/chat": chat }, { docs: { asyncapiPath: "/asyncapi.json" } });
    const res = await fetch(`${server.url}/asyncapi.json?x=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const body = (await res.json()) as Json;
    expect(body.servers.realtime).toMatchObject({ host: `127.0.0.1:${server.port}`, protocol: "ws", pathname: "/wss" });
    expect(body.channels.chat.address).toBe("/chat");
    expect((await fetch(`${server.url}/asyncapi.json`, { method: "POST" })).status).toBe(404);
    // the socket.io endpoint still answers
    await server.connected("/chat");
  });

  it("is not served without docs.asyncapiPath", async () => {
    server = await startServer({ "/chat": chat });
    expect((await fetch(`${server.url}/asyncapi.json`)).status).toBe(404);
  });

  it("refuses a docs.asyncapiPath that shadows the Socket.IO path or metrics.path", () => {
    const message = (input: Parameters<typeof resolveConfig>[0]): string => {
      try {
        resolveConfig(input, {});
      } catch (err) {
        return (err as LolyError).message;
      }
      return "accepted";
    };
    expect(message({ docs: { asyncapiPath: "/wss/doc" } })).toContain(
      '- docs.asyncapiPath: "/wss/doc" collides with the Socket.IO path "/wss": choose a path outside it, e.g. "/asyncapi.json"',
    );
    expect(message({ docs: { asyncapiPath: "/metrics" } })).toContain(
      '- docs.asyncapiPath: "/metrics" is metrics.path: choose another path, e.g. "/asyncapi.json"',
    );
    expect(message({ docs: { asyncapiPath: "doc" } })).toContain("- docs.asyncapiPath: expected a URL path starting with");
    expect(message({ docs: { asyncapiPath: "/asyncapi.json" } })).toBe("accepted");
  });
});
