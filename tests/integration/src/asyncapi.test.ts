/**
 * The AsyncAPI documents of the examples: generated from their routes, checked in under
 * docs/asyncapi/ and kept equal to what the routes generate now, and valid for the official
 * parser (@asyncapi/parser: no error diagnostics). A route with every kind of schema (valibot,
 * recursive, unexpressible, a dynamic namespace, requireAuth) is validated the same way.
 *
 * Regenerate a checked-in document with the command its test prints on a mismatch.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Parser } from "@asyncapi/parser";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineWssRoute } from "@loly-rt/core";
import { createAsyncApiDocument, type AsyncApiSource } from "@loly-rt/server";

const root = (path: string): string => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

const EXAMPLES = [
  { name: "chat", title: "Loly chat example" },
  { name: "counter-cluster", title: "Loly counter-cluster example" },
];

/** The document as `loly-rt asyncapi` writes it. */
async function generate(source: AsyncApiSource): Promise<string> {
  return `${JSON.stringify(await createAsyncApiDocument(source), null, 2)}\n`;
}

/** Diagnostics of the official parser, errors first; severity 0 is an error. */
async function diagnostics(document: string): Promise<Array<{ severity: number; code: string | number; message: string; path: string }>> {
  const found = await new Parser().validate(document);
  return found.map((d) => ({ severity: d.severity, code: d.code, message: d.message, path: d.path.join(".") }));
}

describe("AsyncAPI documents", () => {
  for (const { name, title } of EXAMPLES) {
    const file = `docs/asyncapi/${name}.json`;
    it(`${file} is what examples/${name}'s routes generate, and the parser finds no error in it`, async () => {
      const generated = await generate({ routesDir: root(`examples/${name}/app/wss`), title });
      const command = `npx tsx packages/server/src/asyncapi/bin.ts asyncapi examples/${name}/app/wss --title "${title}" -o ${file}`;
      expect(generated, `${file} is out of date: run ${command}`).toBe(await readFile(root(file), "utf8"));
      expect((await diagnostics(generated)).filter((d) => d.severity === 0)).toEqual([]);
    }, 30_000);
  }

  it("the chat example's document has its events, acknowledgements, emits, live presence and auth", async () => {
    const doc = JSON.parse(await readFile(root("docs/asyncapi/chat.json"), "utf8"));
    expect(Object.keys(doc.operations)).toEqual([
      "chat.receive.join",
      "chat.receive.leave",
      "chat.receive.message",
      "chat.send.message",
      "chat.send.loly_error",
      "chat.send.loly_presence",
      "chat.receive.loly_presence",
      "chat.send.loly_offset",
    ]);
    expect(doc.channels.chat["x-loly-auth"]).toBe("required");
    expect(doc.operations["chat.receive.message"]["x-loly-rate-limit"].event).toEqual({ eventsPerSecond: 1, burst: 5, scope: "socket" });
    expect(doc.components.schemas["chat.client.message"]).toMatchObject({
      properties: { text: { type: "string", minLength: 1, maxLength: 500 } },
    });
    // presence: { broadcast: true }: the diffs the server sends, and the snapshot a member asks for.
    expect(doc.components.schemas.LolyPresenceDiff.oneOf.map((o: { required: string[] }) => o.required)).toEqual([
      ["room", "joined"],
      ["room", "left"],
    ]);
    expect(doc.components.schemas.LolyPresenceSnapshot).toMatchObject({ properties: { users: { type: "array" } } });
    expect(doc.channels.chat.messages["server.loly_presence"].name).toBe("__loly:presence");
  });

  it("a document with every kind of schema, a dynamic namespace and requireAuth is valid too", async () => {
    interface Node {
      label: string;
      next: Node[];
    }
    const node: z.ZodType<Node> = z.lazy(() => z.object({ label: z.string(), next: z.array(node) }));
    const generated = await generate({
      routes: {
        "/rooms/[id]": defineWssRoute({
          auth: () => ({ id: "1" }),
          requireAuth: true,
          presence: { broadcast: true },
          emits: { moved: v.object({ to: v.pipe(v.string(), v.minLength(1)) }), at: z.date(), tree: node },
          events: {
            move: {
              schema: v.object({ to: v.pipe(v.string(), v.transform(Number)) }),
              rateLimit: { eventsPerSecond: 1, scope: "user" },
              handler: () => 1,
            },
            graph: { schema: node, guard: () => true, handler: () => 1 },
            when: { schema: z.object({ at: z.date() }), requireAuth: true, handler: () => 1 },
            plain: { schema: { parse: (x: unknown) => x }, handler: () => 1 },
            ping: () => "pong",
          },
        }),
        "/": defineWssRoute({ events: {} }),
      },
      config: { recovery: false },
    });
    expect((await diagnostics(generated)).filter((d) => d.severity === 0)).toEqual([]);
    expect(generated).toContain("x-loly-not-expressible");
  }, 30_000);
});
