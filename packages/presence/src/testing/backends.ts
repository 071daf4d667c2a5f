/** Test helpers shared by the Redis presence and connection-counter suites. */
import { Redis } from "ioredis";
import { expect } from "vitest";
import { redisUrl } from "../../../../tests/setup/redis.js";

interface Closable {
  close(): Promise<void>;
}

/** Options a backend of these suites is made with (besides its client). */
export interface BackendOptions {
  prefix: string;
  ttlMs: number;
  instanceId?: string;
}

/** The backends one suite opened, closed together by `closeAll` (from the suite's `afterAll`). */
export interface OpenBackends<B> {
  /** One instance on the prefix `p`; `ttlMs` defaults to 1500. */
  open(p: string, ttlMs?: number, instanceId?: string): B;
  /** Two instances of one cluster: both on the prefix `p`. */
  pair(p: string, ttlMs?: number): [B, B];
  /** Closes every instance `open` and `pair` made. */
  closeAll(): Promise<void>;
}

/** Opens backends through `create` and keeps them for `closeAll`. */
export function openBackends<B extends Closable>(create: (options: BackendOptions) => B): OpenBackends<B> {
  const opened: B[] = [];
  const open = (p: string, ttlMs = 1500, instanceId?: string): B => {
    const backend = create({ prefix: p, ttlMs, ...(instanceId ? { instanceId } : {}) });
    opened.push(backend);
    return backend;
  };
  return {
    open,
    pair: (p, ttlMs) => [open(p, ttlMs), open(p, ttlMs)],
    closeAll: async () => {
      await Promise.all(opened.map((b) => b.close()));
    },
  };
}

/**
 * Makes two backends (prefix `app:`) over one client whose ioredis `keyPrefix` is
 * `clientPrefix`, runs `use` with them, then expects (through `inspect`, an unprefixed client)
 * every key they wrote under `${clientPrefix}app:${layout}` and none under `app:${layout}`.
 * Closes both backends and the client whatever happens.
 */
export async function throughKeyPrefixedClient<B extends Closable>(
  inspect: Redis,
  clientPrefix: string,
  layout: string,
  create: (client: Redis, prefix: string) => B,
  use: (a: B, b: B) => Promise<void>,
): Promise<void> {
  const prefixed = new Redis(redisUrl(), { keyPrefix: clientPrefix });
  const a = create(prefixed, "app:");
  const b = create(prefixed, "app:");
  try {
    await use(a, b);
    const keys = await inspect.keys(`${clientPrefix}*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k.startsWith(`${clientPrefix}app:${layout}`)).toBe(true);
    expect(await inspect.keys(`app:${layout}*`)).toEqual([]);
  } finally {
    await a.close();
    await b.close();
    prefixed.disconnect();
  }
}
