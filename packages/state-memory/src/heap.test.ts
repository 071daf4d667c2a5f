import { describe, expect, it } from "vitest";
import { ExpiryHeap } from "./heap.js";

interface Item {
  at: number;
  hi: number;
  id: number;
}

describe("ExpiryHeap", () => {
  it("pops in deadline order after random pushes and removals", () => {
    const heap = new ExpiryHeap<Item>();
    const items: Item[] = Array.from({ length: 500 }, (_v, id) => ({ at: Math.floor(Math.random() * 1000), hi: -1, id }));
    for (const item of items) heap.push(item);
    const removed = new Set<number>();
    for (const item of items) {
      if (item.id % 3 === 0) {
        heap.remove(item);
        removed.add(item.id);
        expect(item.hi).toBe(-1);
      }
    }
    // Removing twice, or removing an item that was never pushed, is harmless.
    heap.remove(items[0]!);
    heap.remove({ at: 1, hi: -1, id: -1 });
    expect(heap.size).toBe(items.length - removed.size);
    const popped: Item[] = [];
    for (let item = heap.pop(); item !== undefined; item = heap.pop()) popped.push(item);
    expect(popped.map((i) => i.at)).toEqual(
      items
        .filter((i) => !removed.has(i.id))
        .map((i) => i.at)
        .sort((a, b) => a - b),
    );
    expect(popped.some((i) => removed.has(i.id))).toBe(false);
    expect(heap.size).toBe(0);
  });

  it("peek shows the earliest item; clear empties the heap", () => {
    const heap = new ExpiryHeap<Item>();
    const late = { at: 20, hi: -1, id: 1 };
    const early = { at: 10, hi: -1, id: 2 };
    heap.push(late);
    heap.push(early);
    expect(heap.peek()).toBe(early);
    heap.clear();
    expect(heap.size).toBe(0);
    expect(heap.peek()).toBeUndefined();
    expect(late.hi).toBe(-1);
  });
});
