import { describe, expect, it } from "vitest";
import { resolveConfig } from "./index.js";
import { DEV, problemsOf } from "./test-support.js";

describe("cluster mode and Redis URLs", () => {
  it("cluster without adapter is an error", () => {
    expect(problemsOf({ scale: { mode: "cluster" } })).toEqual([
      '- scale.adapter: required when scale.mode is "cluster": add scale.adapter: { type: "redis", url: "redis://..." } (or set scale.mode: "single")',
    ]);
  });

  it("cluster with the memory store (explicit or default) is a warning that says what to do", () => {
    for (const stateStore of [undefined, { type: "memory" as const }]) {
      const { config, warnings } = resolveConfig(
        { scale: { mode: "cluster", adapter: { type: "redis", url: "redis://h:6379" }, stateStore } },
        DEV,
      );
      expect(config.scale.mode).toBe("cluster");
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^scale\.stateStore: cluster mode with the memory store/);
      expect(warnings[0]).toContain("per-instance");
      expect(warnings[0]).toMatch(/presence/);
      expect(warnings[0]).toContain('scale.stateStore: { type: "redis" }');
    }
  });

  it("cluster with the Redis store has no warning and shares the adapter's URL", () => {
    const { config, warnings } = resolveConfig(
      { scale: { mode: "cluster", adapter: { type: "redis", url: "rediss://user:pw@h:6380/2" }, stateStore: { type: "redis" } } },
      DEV,
    );
    expect(warnings).toEqual([]);
    expect(config.scale.adapter).toEqual({ type: "redis", url: "rediss://user:pw@h:6380/2", pubsub: "auto" });
    expect(config.scale.stateStore).toEqual({ type: "redis", url: "rediss://user:pw@h:6380/2", prefix: "loly:" });
  });

  it("the store's own URL wins over the adapter's", () => {
    const { config } = resolveConfig(
      { scale: { mode: "cluster", adapter: { type: "redis", url: "redis://a" }, stateStore: { type: "redis", url: "redis://b" } } },
      DEV,
    );
    expect(config.scale.stateStore.url).toBe("redis://b");
  });

  it("adapter.type defaults to redis", () => {
    const { config } = resolveConfig({ scale: { mode: "cluster", adapter: { url: "redis://h" } as never } }, DEV);
    expect(config.scale.adapter?.type).toBe("redis");
  });

  it("falls back to REDIS_URL for the adapter and the store", () => {
    const env = { NODE_ENV: "development", REDIS_URL: "redis://env-host:6379" };
    const { config } = resolveConfig({ scale: { mode: "cluster", adapter: { type: "redis" }, stateStore: { type: "redis" } } }, env);
    expect(config.scale.adapter?.url).toBe("redis://env-host:6379");
    expect(config.scale.stateStore.url).toBe("redis://env-host:6379");
    const single = resolveConfig({ scale: { stateStore: { type: "redis" } } }, env);
    expect(single.config.scale.stateStore.url).toBe("redis://env-host:6379");
  });

  it("falls back to process.env.REDIS_URL when env has no REDIS_URL key", () => {
    const saved = process.env.REDIS_URL;
    process.env.REDIS_URL = "redis://from-process:6379";
    try {
      const { config } = resolveConfig({ scale: { stateStore: { type: "redis" } } }, { NODE_ENV: "test" });
      expect(config.scale.stateStore.url).toBe("redis://from-process:6379");
    } finally {
      if (saved === undefined) delete process.env.REDIS_URL;
      else process.env.REDIS_URL = saved;
    }
  });

  it("a missing Redis URL is an error where it is needed", () => {
    expect(problemsOf({ scale: { mode: "cluster", adapter: { type: "redis" } } })).toEqual([
      '- scale.adapter.url: required: set scale.adapter.url (e.g. "redis://localhost:6379") or the REDIS_URL environment variable',
    ]);
    expect(problemsOf({ scale: { stateStore: { type: "redis" } } })).toEqual([
      '- scale.stateStore.url: required for type "redis": set scale.stateStore.url, scale.adapter.url or the REDIS_URL environment variable',
    ]);
  });

  it("an invalid REDIS_URL is an error that names the variable", () => {
    const env = { NODE_ENV: "development", REDIS_URL: "localhost:6379" };
    expect(problemsOf({ scale: { mode: "cluster", adapter: { type: "redis" }, stateStore: { type: "redis" } } }, env)).toEqual([
      '- scale.adapter.url: REDIS_URL is "localhost:6379": expected a Redis URL like "redis://localhost:6379" (redis:// or rediss://)',
      '- scale.stateStore.url: REDIS_URL is "localhost:6379": expected a Redis URL like "redis://localhost:6379" (redis:// or rediss://)',
    ]);
  });

  it("warns that an adapter is ignored in single mode", () => {
    const { warnings } = resolveConfig({ scale: { adapter: { type: "redis", url: "redis://h" } } }, DEV);
    expect(warnings).toEqual(['scale.adapter: ignored because scale.mode is "single"; set scale.mode: "cluster" to use it']);
  });

  it("pubsub: sharded needs recovery off; a wrong mode and a custom adapter's pubsub are errors", () => {
    const url = "redis://h";
    expect(problemsOf({ scale: { mode: "cluster", adapter: { type: "redis", url, pubsub: "sharded" } } })).toEqual([
      '- scale.adapter.pubsub: "sharded" needs recovery: false (the recovery log keeps one order per namespace; sharded channels have one per room). Use "classic" or "auto" with recovery on',
    ]);
    expect(
      resolveConfig({ scale: { mode: "cluster", adapter: { type: "redis", url, pubsub: "sharded" } }, recovery: false }, DEV).config.scale
        .adapter?.pubsub,
    ).toBe("sharded");
    expect(problemsOf({ scale: { mode: "cluster", adapter: { type: "redis", url, pubsub: "fast" as never } } })[0]).toMatch(
      /^- scale\.adapter\.pubsub: expected one of "auto" \| "sharded" \| "classic", got "fast"$/,
    );
    expect(
      problemsOf({
        scale: { mode: "cluster", adapter: { type: "custom", create: () => ({}), pubsub: "classic" }, stateStore: { url } },
      } as never),
    ).toEqual(['- scale.adapter.pubsub: only for type "redis": a custom adapter travels its own way']);
  });
});
