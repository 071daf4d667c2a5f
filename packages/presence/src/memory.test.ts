import { describe, expect, it } from "vitest";
import { createMemoryConnectionCounter, createMemoryPresence } from "./memory.js";
import { describePresenceConformance } from "@loly-rt/core/testing";

describePresenceConformance("memory", {
  make: () => createMemoryPresence(),
  destroy: (backend) => backend.close(),
});

describe("createMemoryPresence", () => {
  it("forgets a namespace entirely once its last socket leaves", async () => {
    const p = createMemoryPresence();
    await p.add({ namespace: "/chat", socketId: "s1", userId: "u1" });
    await p.join("/chat", "s1", "r");
    await p.remove("/chat", "s1");
    // Re-joining an emptied room must not resurrect stale counts.
    await p.add({ namespace: "/chat", socketId: "s2", userId: "u1" });
    await p.join("/chat", "s2", "r");
    await p.leave("/chat", "s2", "r");
    expect(await p.users("/chat", "r")).toEqual([]);
    expect(await p.users("/chat")).toEqual(["u1"]);
  });
});

describe("createMemoryConnectionCounter", () => {
  it("counts per IP up to the limit, synchronously", () => {
    const c = createMemoryConnectionCounter();
    expect(c.acquire("1.1.1.1", 2)).toBe(true);
    expect(c.acquire("1.1.1.1", 2)).toBe(true);
    expect(c.acquire("1.1.1.1", 2)).toBe(false);
    expect(c.acquire("2.2.2.2", 2)).toBe(true);
    c.release("1.1.1.1");
    expect(c.acquire("1.1.1.1", 2)).toBe(true);
    expect(c.acquire("1.1.1.1", 2)).toBe(false);
  });

  it("ignores releases of IPs it never counted and resets on close", async () => {
    const c = createMemoryConnectionCounter();
    c.release("9.9.9.9");
    expect(c.acquire("9.9.9.9", 1)).toBe(true);
    expect(c.acquire("9.9.9.9", 1)).toBe(false);
    await c.close();
    expect(c.acquire("9.9.9.9", 1)).toBe(true);
  });
});
