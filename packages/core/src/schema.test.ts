import { describe, expect, it } from "vitest";
import { z } from "zod";
import * as v from "valibot";
import { compileSchema, isWssSchema } from "./schema.js";

describe("compileSchema", () => {
  it("validates through Standard Schema (zod and valibot) with path + message issues", async () => {
    const zod = compileSchema(z.object({ a: z.object({ b: z.number() }) }));
    expect(zod({ a: { b: 1 } })).toEqual({ ok: true, value: { a: { b: 1 } } });
    const bad = await zod({ a: { b: "x" } });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.issues[0]?.path).toBe("a.b");
    const vb = compileSchema(v.object({ n: v.number() }));
    const r = await vb({ n: "1" });
    expect(!r.ok && r.issues[0]?.path).toBe("n");
  });

  it("falls back to safeParse, then parse", () => {
    const safe = compileSchema({
      safeParse: (x: unknown) =>
        typeof x === "string"
          ? { success: true as const, data: x }
          : { success: false as const, error: { issues: [{ path: ["q"], message: "nope" }] } },
    });
    expect(safe("s")).toEqual({ ok: true, value: "s" });
    expect(safe(1)).toEqual({ ok: false, issues: [{ path: "q", message: "nope" }] });
    const parse = compileSchema({
      parse: (x: unknown) => {
        if (x !== 1) throw new Error("must be 1");
        return x;
      },
    });
    expect(parse(1)).toEqual({ ok: true, value: 1 });
    expect(parse(2)).toEqual({ ok: false, issues: [{ path: "", message: "must be 1" }] });
  });

  it("refuses a payload a recursive schema cannot validate instead of throwing", async () => {
    type Node = { child?: Node };
    const node: z.ZodType<Node> = z.lazy(() => z.object({ child: node.optional() }));
    const validate = compileSchema(node);
    let deep: Node = {};
    for (let i = 0; i < 200_000; i++) deep = { child: deep };
    // zod answers a schema that threw with its async path: the result may be a promise
    const r = await validate(deep);
    expect(r).toEqual({ ok: false, issues: [{ path: "", message: "Payload could not be validated: it is nested too deeply" }] });
  });

  it("refuses when a schema throws or an async schema rejects", async () => {
    const throwing = compileSchema({
      "~standard": {
        version: 1,
        vendor: "test",
        validate: () => {
          throw new Error("bug in a refinement");
        },
      },
    });
    expect(throwing("x")).toEqual({
      ok: false,
      issues: [{ path: "", message: "Payload could not be validated: the schema failed on it" }],
    });
    const rejecting = compileSchema({
      "~standard": { version: 1, vendor: "test", validate: () => Promise.reject(new Error("down")) },
    });
    await expect(rejecting("x")).resolves.toEqual({
      ok: false,
      issues: [{ path: "", message: "Payload could not be validated: the schema failed on it" }],
    });
  });

  it("recognises schemas", () => {
    expect(isWssSchema(z.string())).toBe(true);
    expect(isWssSchema(v.string())).toBe(true);
    expect(isWssSchema({ parse: () => 1 })).toBe(true);
    expect(isWssSchema({})).toBe(false);
    expect(isWssSchema(null)).toBe(false);
  });
});
