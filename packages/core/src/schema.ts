import type { StandardSchemaV1 } from "@standard-schema/spec";

/** A schema with zod's `safeParse` shape (zod 3, and anything alike). */
export interface SafeParseSchema<TOutput = unknown> {
  safeParse(input: unknown): { success: true; data: TOutput } | { success: false; error: unknown };
}

/** A schema with a throwing `parse` (the last resort of the adapter). */
export interface ParseSchema<TOutput = unknown> {
  parse(input: unknown): TOutput;
}

/**
 * A payload schema: any Standard Schema (zod >= 3.24, valibot >= 1, arktype, effect...),
 * or an object with `safeParse`/`parse`.
 */
export type WssSchema = StandardSchemaV1 | SafeParseSchema | ParseSchema;

/** What a schema produces: the type `ctx.data` has. */
export type InferSchemaOutput<S> =
  S extends StandardSchemaV1<unknown, infer O>
    ? O
    : S extends { safeParse(input: unknown): { success: true; data: infer O } | { success: false } }
      ? O
      : S extends { parse(input: unknown): infer O }
        ? O
        : unknown;

/** What a schema accepts: the type a client sends. */
export type InferSchemaInput<S> = S extends StandardSchemaV1<infer I, unknown> ? I : InferSchemaOutput<S>;

/** One validation problem: a dotted path (`""` = the payload itself) and a message. */
export interface SchemaIssue {
  path: string;
  message: string;
}

/** Outcome of a compiled validator. */
export type ValidationResult<T = unknown> = { ok: true; value: T } | { ok: false; issues: SchemaIssue[] };

/**
 * A schema resolved once, at start-up, into one function. Synchronous for synchronous
 * schemas, so the event pipeline stays synchronous.
 */
export type CompiledValidator<T = unknown> = (input: unknown) => ValidationResult<T> | Promise<ValidationResult<T>>;

/** True when `value` can be used as an event schema. */
export function isWssSchema(value: unknown): value is WssSchema {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  const v = value as Record<string, unknown>;
  const std = v["~standard"] as { validate?: unknown } | undefined;
  return (
    (typeof std === "object" && std !== null && typeof std.validate === "function") ||
    typeof v.safeParse === "function" ||
    typeof v.parse === "function"
  );
}

function pathToString(path: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined): string {
  if (!path || path.length === 0) return "";
  let out = "";
  for (const seg of path) {
    const key = typeof seg === "object" && seg !== null ? seg.key : seg;
    const s = typeof key === "symbol" ? key.toString() : String(key);
    out = out === "" ? s : `${out}.${s}`;
  }
  return out;
}

function standardIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>): SchemaIssue[] {
  return issues.map((i) => ({ path: pathToString(i.path), message: i.message }));
}

/** Best-effort issues from a thrown or returned error of a non-standard schema. */
function errorIssues(error: unknown): SchemaIssue[] {
  const e = error as { issues?: unknown; errors?: unknown; message?: unknown } | null;
  const list = (e && (Array.isArray(e.issues) ? e.issues : Array.isArray(e.errors) ? e.errors : null)) as Array<{
    path?: Array<PropertyKey | { key: PropertyKey }>;
    message?: unknown;
  }> | null;
  if (list && list.length > 0) {
    return list.map((i) => ({ path: pathToString(i.path), message: String(i.message ?? "Invalid value") }));
  }
  const message = e && typeof e.message === "string" ? e.message : "Invalid payload";
  return [{ path: "", message }];
}

/**
 * A schema that threw instead of answering (a recursive schema fed a payload deep enough to
 * overflow the stack, a buggy refinement): the payload is refused, never the server.
 */
function thrown(err: unknown): { ok: false; issues: SchemaIssue[] } {
  const reason = err instanceof RangeError ? "it is nested too deeply" : "the schema failed on it";
  return { ok: false, issues: [{ path: "", message: `Payload could not be validated: ${reason}` }] };
}

/**
 * Resolves a schema into one validator, once. Standard Schema first (`~standard.validate`),
 * then `safeParse`, then `parse` (a throw is a rejection).
 *
 * @example
 * const validate = compileSchema(z.object({ text: z.string() }));
 * validate({ text: 1 }); // { ok: false, issues: [{ path: "text", message: "..." }] }
 */
export function compileSchema<S extends WssSchema>(schema: S): CompiledValidator<InferSchemaOutput<S>> {
  type O = InferSchemaOutput<S>;
  const std = (schema as Partial<StandardSchemaV1>)["~standard"];
  if (std && typeof std.validate === "function") {
    const validate = std.validate.bind(std);
    const settle = (r: StandardSchemaV1.Result<unknown>): ValidationResult<O> =>
      r.issues ? { ok: false, issues: standardIssues(r.issues) } : { ok: true, value: r.value as O };
    return (input) => {
      let r: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
      try {
        r = validate(input);
      } catch (err) {
        return thrown(err);
      }
      return r instanceof Promise ? r.then(settle, thrown) : settle(r);
    };
  }
  const s = schema as Partial<SafeParseSchema & ParseSchema>;
  if (typeof s.safeParse === "function") {
    const safeParse = s.safeParse.bind(schema);
    return (input) => {
      let r: ReturnType<SafeParseSchema["safeParse"]>;
      try {
        r = safeParse(input);
      } catch (err) {
        return thrown(err);
      }
      return r.success ? { ok: true, value: r.data as O } : { ok: false, issues: errorIssues(r.error) };
    };
  }
  if (typeof s.parse === "function") {
    const parse = s.parse.bind(schema);
    return (input) => {
      try {
        return { ok: true, value: parse(input) as O };
      } catch (err) {
        return { ok: false, issues: errorIssues(err) };
      }
    };
  }
  throw new TypeError("compileSchema: not a schema (expected `~standard`, `safeParse` or `parse`)");
}
