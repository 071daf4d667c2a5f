import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LocalFallback } from "./fallback.js";

const STALE = 1000;
/** The fallback's deadline: `staleAfterMs` and its margin. */
const LIMIT = STALE + 50;

describe("LocalFallback", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup() {
    const delivered: string[] = [];
    let drops = 0;
    const fallback = new LocalFallback(STALE, () => drops++);
    const add = (name: string) => fallback.add(() => delivered.push(name));
    return { fallback, add, delivered, drops: () => drops };
  }

  it("delivers a broadcast Redis left unanswered here at its deadline, not before, once", () => {
    const { fallback, add, delivered } = setup();
    const first = add("a");
    vi.advanceTimersByTime(300);
    add("b");
    vi.advanceTimersByTime(LIMIT - 300 - 1);
    expect(delivered).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(delivered).toEqual(["a"]);
    vi.advanceTimersByTime(300);
    expect(delivered).toEqual(["a", "b"]);
    // Redis answers at last: nothing more.
    fallback.answered(first);
    vi.advanceTimersByTime(5000);
    expect(delivered).toEqual(["a", "b"]);
    fallback.stop();
  });

  it("gives nothing here for a broadcast Redis answered in time (its copy comes through the subscription)", () => {
    const { fallback, add, delivered, drops } = setup();
    const entry = add("a");
    vi.advanceTimersByTime(LIMIT - 10);
    fallback.answered(entry);
    vi.advanceTimersByTime(5000);
    expect(delivered).toEqual([]);
    expect(drops()).toBe(0);
  });

  it("delivers a failed publish here at once and counts it, early or late", () => {
    const { fallback, add, delivered, drops } = setup();
    const early = add("early");
    vi.advanceTimersByTime(10);
    fallback.failed(early);
    expect(delivered).toEqual(["early"]);
    // One that fails just past the deadline, before the timer could run (a busy event loop).
    const late = add("late");
    vi.setSystemTime(Date.now() + LIMIT + 5);
    fallback.failed(late);
    expect(delivered).toEqual(["early", "late"]);
    expect(drops()).toBe(2);
    vi.advanceTimersByTime(5000);
    expect(delivered).toEqual(["early", "late"]);
    fallback.stop();
  });

  it("delivers here one answered past the deadline before the timer ran (its copy arrives stale)", () => {
    const { fallback, add, delivered } = setup();
    const entry = add("a");
    vi.setSystemTime(Date.now() + LIMIT + 5);
    fallback.answered(entry);
    expect(delivered).toEqual(["a"]);
    vi.advanceTimersByTime(5000);
    expect(delivered).toEqual(["a"]);
    fallback.stop();
  });
});
