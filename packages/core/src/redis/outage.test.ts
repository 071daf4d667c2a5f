import { describe, expect, it } from "vitest";
import { createOutageReporter } from "./outage.js";

describe("createOutageReporter", () => {
  it("calls onFirst once per outage, onRepeat for the rest, onRecover once when it ends", () => {
    const calls: string[] = [];
    const outage = createOutageReporter<string>({
      onFirst: (err, stage) => calls.push(`first ${String(err)} ${stage}`),
      onRepeat: (err, stage) => calls.push(`repeat ${String(err)} ${stage}`),
      onRecover: () => calls.push("recover"),
    });
    expect(outage.down).toBe(false);
    outage.ok();
    outage.fail("a", "heartbeat");
    expect(outage.down).toBe(true);
    outage.fail("b", "close");
    outage.ok();
    outage.ok();
    expect(outage.down).toBe(false);
    outage.fail("c", "heartbeat");
    expect(calls).toEqual(["first a heartbeat", "repeat b close", "recover", "first c heartbeat"]);
  });

  it("keeps the rest of an outage silent without onRepeat", () => {
    const seen: unknown[] = [];
    const outage = createOutageReporter({ onFirst: (err) => seen.push(err) });
    outage.fail(1);
    outage.fail(2);
    outage.ok();
    outage.fail(3);
    expect(seen).toEqual([1, 3]);
  });

  it("swallows callbacks that throw and still tracks the outage", () => {
    const boom = (): never => {
      throw new Error("callback failed");
    };
    const outage = createOutageReporter({ onFirst: boom, onRepeat: boom, onRecover: boom });
    expect(() => outage.fail(new Error("down"))).not.toThrow();
    expect(() => outage.fail(new Error("still down"))).not.toThrow();
    expect(outage.down).toBe(true);
    expect(() => outage.ok()).not.toThrow();
    expect(outage.down).toBe(false);
  });

  it("counts a failure reported from inside onFirst as a repeat", () => {
    const calls: string[] = [];
    const outage = createOutageReporter({
      onFirst: () => {
        calls.push("first");
        outage.fail("again");
      },
      onRepeat: () => calls.push("repeat"),
    });
    outage.fail("down");
    expect(calls).toEqual(["first", "repeat"]);
  });
});
