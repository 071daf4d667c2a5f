import { toJsonSchema as valibotToJsonSchema } from "@valibot/to-json-schema";

/** A JSON Schema (draft-07, what AsyncAPI 3.0's default schema format extends). */
export type JsonSchema = Record<string, unknown>;

/**
 * A payload schema converted to JSON Schema, or why it could not be: never dropped, the
 * document says so (see {@link describeUnexpressible}).
 */
export type Converted = { ok: true; schema: JsonSchema } | { ok: false; reason: string };

/** The Standard JSON Schema converter (zod >= 4.2, arktype...): `~standard.jsonSchema`. */
interface StandardJsonConverter {
  input(options: { target: string; libraryOptions?: Record<string, unknown> }): Record<string, unknown>;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Drops the top-level `$schema` (the document's schema format says the draft). */
function bare(schema: Record<string, unknown>): JsonSchema {
  const { $schema: _draft, ...rest } = schema;
  return rest;
}

/**
 * The JSON Schema of what a schema accepts (its input: what a client sends, what the server
 * emits), in draft-07:
 * - a Standard JSON Schema (`~standard.jsonSchema`: zod >= 4.2 and others), through it;
 * - valibot, through `@valibot/to-json-schema` (input mode);
 * - anything else (zod 3, a `safeParse`/`parse` object, a custom Standard Schema) is not
 *   expressible, and so is a schema its converter refuses (a zod `z.date()`, a valibot
 *   `custom()`...): the reason is returned, for the document to state.
 */
export function toJsonSchema(schema: unknown): Converted {
  const std = (schema as { "~standard"?: { vendor?: unknown; jsonSchema?: StandardJsonConverter } } | null)?.["~standard"];
  if (std && typeof std.jsonSchema?.input === "function") {
    try {
      return { ok: true, schema: bare(std.jsonSchema.input({ target: "draft-07" })) };
    } catch (err) {
      return { ok: false, reason: `${String(std.vendor ?? "the schema")}: ${errorText(err)}` };
    }
  }
  if (std && std.vendor === "valibot") {
    try {
      return {
        ok: true,
        schema: bare(valibotToJsonSchema(schema as never, { target: "draft-07", typeMode: "input", errorMode: "throw" }) as JsonSchema),
      };
    } catch (err) {
      return { ok: false, reason: `valibot: ${errorText(err)}` };
    }
  }
  if (std) {
    const vendor = String(std.vendor ?? "unknown");
    return {
      ok: false,
      reason:
        vendor === "zod"
          ? "zod 3 schemas have no JSON Schema converter (zod 4 has one)"
          : `a ${vendor} Standard Schema without a JSON Schema converter (~standard.jsonSchema)`,
    };
  }
  return { ok: false, reason: "a schema with safeParse/parse only: its shape cannot be read" };
}

/** What the document shows for a schema that cannot be expressed: any value, and why. */
export function describeUnexpressible(reason: string): JsonSchema {
  return {
    description: `Not expressible in JSON Schema (${reason}). The server still validates it; see the route's source.`,
    "x-loly-not-expressible": reason,
  };
}

/**
 * Makes a converted schema's own references (`#`, `#/definitions/...`, `#/$defs/...`) point
 * where the schema is placed in the document (`#/components/schemas/<id>`), so that recursive
 * and shared definitions still resolve there.
 */
export function rebase(schema: JsonSchema, pointer: string): JsonSchema {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value !== "object" || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      out[key] = key === "$ref" && typeof v === "string" && v.startsWith("#") ? pointer + v.slice(1) : walk(v);
    }
    return out;
  };
  return walk(schema) as JsonSchema;
}
