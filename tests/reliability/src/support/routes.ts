/**
 * An in-process route for hostile-input suites: every handler counts its runs and checks
 * that what it received is what its schema promises (recorded in `violations`), including
 * that `ctx.data` has no inherited (polluted) properties.
 */
import * as v from "valibot";
import { z } from "zod";
import { defineWssRoute } from "@loly-rt/core";

export interface Probe {
  runs: Record<string, number>;
  violations: string[];
}

export function probeRoute(probe: Probe) {
  const ran = (event: string): void => {
    probe.runs[event] = (probe.runs[event] ?? 0) + 1;
    if (({} as Record<string, unknown>).polluted !== undefined) probe.violations.push(`${event}: Object.prototype polluted`);
  };
  const plain = (event: string, data: unknown): void => {
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      probe.violations.push(`${event}: not an object: ${typeof data}`);
      return;
    }
    const proto = Object.getPrototypeOf(data) as unknown;
    if (proto !== Object.prototype && proto !== null) probe.violations.push(`${event}: ctx.data has a foreign prototype`);
    if ((data as Record<string, unknown>).polluted !== undefined && !Object.hasOwn(data, "polluted")) {
      probe.violations.push(`${event}: ctx.data inherits "polluted"`);
    }
  };
  const text = z.object({ text: z.string().max(100) });
  return defineWssRoute({
    auth: ({ handshake }) => (typeof handshake.auth.userId === "string" ? { id: handshake.auth.userId } : null),
    events: {
      strict: {
        schema: text,
        handler: (ctx) => {
          ran("strict");
          plain("strict", ctx.data);
          if (!text.safeParse(ctx.data).success) probe.violations.push("strict: handler got an invalid payload");
          return "ok";
        },
      },
      loose: {
        schema: z.looseObject({ text: z.string() }),
        handler: (ctx) => {
          ran("loose");
          plain("loose", ctx.data);
          return Object.keys(ctx.data);
        },
      },
      record: {
        schema: z.record(z.string(), z.unknown()),
        handler: (ctx) => {
          ran("record");
          plain("record", ctx.data);
          for (const value of Object.values(ctx.data))
            if (typeof value === "object" && value !== null && !Array.isArray(value)) plain("record.value", value);
          return Object.keys(ctx.data);
        },
      },
      vloose: {
        schema: v.looseObject({ text: v.string() }),
        handler: (ctx) => {
          ran("vloose");
          plain("vloose", ctx.data);
          return Object.keys(ctx.data);
        },
      },
      vrecord: {
        schema: v.record(v.string(), v.unknown()),
        handler: (ctx) => {
          ran("vrecord");
          plain("vrecord", ctx.data);
          return Object.keys(ctx.data);
        },
      },
      nums: {
        schema: z.array(z.number()).max(10),
        handler: (ctx) => {
          ran("nums");
          if (!Array.isArray(ctx.data) || ctx.data.some((n) => typeof n !== "number")) probe.violations.push("nums: invalid payload");
          return ctx.data.length;
        },
      },
      bin: {
        schema: z.instanceof(Buffer),
        handler: (ctx) => {
          ran("bin");
          if (!Buffer.isBuffer(ctx.data)) probe.violations.push("bin: not a Buffer");
          return ctx.data.length;
        },
      },
      raw: (ctx) => {
        ran("raw");
        return typeof ctx.data === "string" ? ctx.data.length : typeof ctx.data;
      },
      echo: (ctx) => {
        ran("echo");
        return ctx.data;
      },
      shout: (ctx) => {
        ran("shout");
        ctx.actions.emit("shout", "hello");
        return "ok";
      },
    },
  });
}
