import { describe, expect, it } from "vitest";
import { z } from "zod";
import { LolyError } from "./errors.js";
import { defineWssRoute } from "./route.js";

/** The message `defineWssRoute` refuses `definition` with. */
function refusal(definition: unknown): string {
  try {
    defineWssRoute(definition as never);
  } catch (err) {
    expect(LolyError.is(err) && err.code).toBe("INVALID_ROUTE");
    return (err as Error).message;
  }
  throw new Error("accepted");
}

describe("defineWssRoute: emits", () => {
  it("keeps the emits on the route", () => {
    const said = z.object({ text: z.string() });
    const route = defineWssRoute({ emits: { said }, events: {} });
    expect(route.emits?.said).toBe(said);
  });

  it("refuses emits that are not an object of schemas, naming the key", () => {
    expect(refusal({ emits: [], events: {} })).toBe(
      "defineWssRoute: route.emits: must be an object keyed by event name, like { said: z.object({ text: z.string() }) }",
    );
    expect(refusal({ emits: { said: "string" }, events: {} })).toBe(
      "defineWssRoute: route.emits.said: is not a schema: pass a Standard Schema (zod, valibot...) or an object with safeParse/parse",
    );
  });

  it("refuses the names Socket.IO and Loly send themselves", () => {
    for (const name of ["connect", "disconnect", "connect_error", "__loly:error", "__loly:presence"]) {
      expect(refusal({ emits: { [name]: z.string() }, events: {} })).toBe(
        `defineWssRoute: route.emits.${name}: "${name}" is reserved (Socket.IO's or Loly's); use another name`,
      );
    }
  });
});

describe("defineWssRoute: presence", () => {
  it("keeps the option on the route", () => {
    const route = defineWssRoute({ presence: { broadcast: true }, events: {} });
    expect(route.presence).toEqual({ broadcast: true });
    expect(defineWssRoute({ events: {} }).presence).toBeUndefined();
  });

  it("refuses a presence option that is not { broadcast: boolean }, naming the key", () => {
    expect(refusal({ presence: true, events: {} })).toBe("defineWssRoute: route.presence: must be an object like { broadcast: true }");
    expect(refusal({ presence: { broadcast: "yes" }, events: {} })).toBe(
      'defineWssRoute: route.presence.broadcast: must be a boolean (got "yes")',
    );
    expect(refusal({ presence: { broadcst: true }, events: {} })).toBe(
      "defineWssRoute: route.presence.broadcst: unknown key; allowed: broadcast",
    );
  });

  it("reserves every __loly: event name, the presence request included", () => {
    for (const name of ["__loly:presence", "__loly:error", "__loly:anything"]) {
      expect(refusal({ events: { [name]: () => null } })).toBe(
        `defineWssRoute: route.events.${name}: "${name}" is reserved; use onConnect/onDisconnect or another name`,
      );
    }
  });
});
