/** Something that expires: `at` is its deadline, `hi` its heap slot (-1 when not in a heap). */
export interface Expiring {
  at: number;
  hi: number;
}

/**
 * An indexed binary min-heap of deadlines. Each item remembers its slot, so a key that is
 * replaced, deleted or evicted leaves the heap at once (O(log n)) and the heap never holds
 * more than the live keys with a TTL.
 */
export class ExpiryHeap<T extends Expiring> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The earliest item, without removing it. */
  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    item.hi = this.items.length;
    this.items.push(item);
    this.up(item.hi);
  }

  /** Removes `item` if it is in this heap. */
  remove(item: T): void {
    const i = item.hi;
    if (i < 0 || this.items[i] !== item) return;
    item.hi = -1;
    const last = this.items.pop()!;
    if (last === item) return;
    this.items[i] = last;
    last.hi = i;
    this.down(i);
    this.up(last.hi);
  }

  /** Removes and returns the earliest item. */
  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  clear(): void {
    for (const item of this.items) item.hi = -1;
    this.items.length = 0;
  }

  private up(start: number): void {
    const items = this.items;
    const item = items[start]!;
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (p.at <= item.at) break;
      items[i] = p;
      p.hi = i;
      i = parent;
    }
    items[i] = item;
    item.hi = i;
  }

  private down(start: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[start]!;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && items[right]!.at < items[left]!.at) child = right;
      const c = items[child]!;
      if (c.at >= item.at) break;
      items[i] = c;
      c.hi = i;
      i = child;
    }
    items[i] = item;
    item.hi = i;
  }
}
