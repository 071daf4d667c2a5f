import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PublishGate } from "./gate.js";

const BOUND = 400;
const TICK = BOUND / 4;

function makeGate(): { gate: PublishGate; seen: { closed: number; opened: number; ticks: number } } {
  const seen = { closed: 0, opened: 0, ticks: 0 };
  const gate = new PublishGate(BOUND, { onClose: () => seen.closed++, onOpen: () => seen.opened++, onTick: () => seen.ticks++ });
  return { gate, seen };
}

/** `n` publishes Redis does not answer for two bounds: the gate is closed after. */
function hang(gate: PublishGate, n: number): void {
  for (let i = 0; i < n; i++) gate.sent();
  vi.advanceTimersByTime(2 * BOUND);
  expect(gate.open).toBe(false);
}

describe("PublishGate", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("stays open while Redis answers, and while nothing is pending", () => {
    const { gate, seen } = makeGate();
    for (let i = 0; i < 50; i++) {
      gate.sent();
      gate.sent();
      vi.advanceTimersByTime(TICK);
      gate.answered();
      gate.answered();
    }
    vi.advanceTimersByTime(10 * BOUND);
    expect(gate.open).toBe(true);
    expect(seen).toMatchObject({ closed: 0, opened: 0 });
    expect(seen.ticks).toBe(90);
    gate.stop();
  });

  it("stays open while a backlog drains, however long it is", () => {
    const { gate } = makeGate();
    for (let i = 0; i < 100; i++) gate.sent();
    for (let i = 0; i < 100; i++) {
      vi.advanceTimersByTime(TICK);
      gate.answered();
    }
    expect(gate.open).toBe(true);
    gate.stop();
  });

  it("closes once a publish has gone unanswered for longer than the bound, once, and opens at the answer", () => {
    const { gate, seen } = makeGate();
    gate.sent();
    vi.advanceTimersByTime(BOUND + TICK / 2);
    expect(gate.open).toBe(true);
    vi.advanceTimersByTime(TICK);
    expect(gate.open).toBe(false);
    gate.sent();
    vi.advanceTimersByTime(5 * BOUND);
    expect(seen).toMatchObject({ closed: 1, opened: 0 });
    gate.answered();
    expect(gate.open).toBe(false);
    gate.answered();
    expect(gate.open).toBe(true);
    expect(seen).toMatchObject({ closed: 1, opened: 1 });
    gate.stop();
  });

  it("opens when Redis answers again, before the whole backlog is answered", () => {
    const { gate } = makeGate();
    hang(gate, 3);
    gate.answered();
    vi.advanceTimersByTime(TICK);
    expect(gate.open).toBe(true);
    gate.stop();
  });

  it("reset() (the client is ready again) opens it, and late answers of what it held do not hide the next hang", () => {
    const { gate, seen } = makeGate();
    hang(gate, 2);
    gate.reset();
    expect(gate.open).toBe(true);
    gate.answered();
    gate.answered();
    hang(gate, 1);
    expect(seen).toMatchObject({ closed: 2, opened: 1 });
    gate.stop();
  });

  it("opens without a recovery once what it waited for has failed (Redis unreachable, not back)", () => {
    const { gate, seen } = makeGate();
    hang(gate, 2);
    gate.failed();
    gate.failed();
    expect(gate.open).toBe(true);
    expect(seen).toMatchObject({ closed: 1, opened: 0 });
    gate.sent();
    gate.answered();
    vi.advanceTimersByTime(TICK);
    expect(seen.opened).toBe(0);
    gate.stop();
  });

  it("stop() ends the watchdog", () => {
    const { gate, seen } = makeGate();
    gate.stop();
    gate.sent();
    vi.advanceTimersByTime(5 * BOUND);
    expect(seen.ticks).toBe(0);
    expect(gate.open).toBe(true);
  });
});
