import { describe, expect, it } from "vitest";
import { MemoryPacketLog } from "./memory-log.js";

describe("the single-instance recovery log", () => {
  it("gives the packets after an offset, in order, for each namespace on its own", () => {
    const log = new MemoryPacketLog(60_000, 100);
    const start = log.position("/a");
    const o1 = log.append("/a", ["r"], [], ["e", 1]);
    log.append("/b", [], [], ["e", "other namespace"]);
    const o2 = log.append("/a", [], ["s1"], ["e", 2]);
    expect(log.after("/a", start)?.map((p) => p.offset)).toEqual([o1, o2]);
    expect(log.after("/a", o1)?.map((p) => p.data)).toEqual([["e", 2]]);
    expect(log.after("/a", o2)).toEqual([]);
  });

  it("keeps at most maxEvents per namespace: an offset that was dropped resumes nothing", () => {
    const log = new MemoryPacketLog(60_000, 3);
    const offsets = Array.from({ length: 5 }, (_, i) => log.append("/a", [], [], ["e", i]));
    expect(log.after("/a", offsets[0] as string)).toBeNull();
    expect(log.after("/a", offsets[1] as string)).toEqual(expect.arrayContaining([]));
    expect(log.after("/a", offsets[1] as string)?.map((p) => p.data[1])).toEqual([2, 3, 4]);
  });

  it("resumes nothing from an offset it never gave (another run of the process, or garbage)", () => {
    const log = new MemoryPacketLog(60_000, 10);
    log.append("/a", [], [], ["e"]);
    expect(log.after("/a", "deadbeef.1")).toBeNull();
    expect(log.after("/a", "nonsense")).toBeNull();
    expect(log.after("/a", `${log.position("/a").split(".")[0]}.99`)).toBeNull();
  });

  it("forgets what is older than the window, and namespaces left empty (dynamic namespaces do not pile up)", () => {
    const log = new MemoryPacketLog(1000, 10);
    const start = log.position("/a");
    log.append("/a", [], [], ["e"]);
    for (let i = 0; i < 100; i++) log.position(`/rooms/${i}`);
    expect(log.namespaces).toBe(101);
    log.sweep(Date.now() + 500);
    expect(log.after("/a", start)).toHaveLength(1);
    log.sweep(Date.now() + 5000);
    expect(log.namespaces).toBe(0);
  });
});
