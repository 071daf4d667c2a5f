import type { RealtimeConfig } from "@loly-rt/core";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, resolveConfig } from "./index.js";
import { DEV, ORIGINS, PROD, problemsOf } from "./test-support.js";

const EXPECTED_DEFAULTS: RealtimeConfig = {
  enabled: true,
  path: "/wss",
  transports: ["websocket", "polling"],
  pingIntervalMs: 25000,
  pingTimeoutMs: 20000,
  maxPayloadBytes: 65536,
  connectTimeoutMs: 10000,
  allowedOrigins: "*",
  trustProxy: false,
  scale: { mode: "single", stateStore: { type: "memory", prefix: "loly:" }, commandTimeoutMs: 3000 },
  limits: {
    connectionsPerIp: 20,
    namespacesPerConnection: 16,
    maxBufferedBytes: 1048576,
    eventsPerSecond: 30,
    burst: 60,
    scope: "socket",
    onStoreError: "allow",
  },
  presence: { ttlMs: 15000 },
  logging: { level: "info", pretty: true },
  metrics: { enabled: true, path: "/metrics", host: "127.0.0.1" },
  docs: {},
  recovery: { enabled: true, windowMs: 120000, maxEvents: 10000 },
  shutdown: { graceMs: 10000, drainMs: 2000 },
  handlerTimeoutMs: 30000,
};

describe("defaults", () => {
  it("fills every key in development", () => {
    const { config, warnings, production } = resolveConfig(undefined, DEV);
    expect(config).toEqual(EXPECTED_DEFAULTS);
    expect(warnings).toEqual([]);
    expect(production).toBe(false);
  });

  it("DEFAULT_CONFIG is the frozen development defaults", () => {
    expect(DEFAULT_CONFIG).toEqual(EXPECTED_DEFAULTS);
    expect(Object.isFrozen(DEFAULT_CONFIG)).toBe(true);
    expect(Object.isFrozen(DEFAULT_CONFIG.scale.stateStore)).toBe(true);
    expect(Object.isFrozen(DEFAULT_CONFIG.transports)).toBe(true);
  });

  it("returns a fresh config each time (no shared arrays or objects)", () => {
    const a = resolveConfig({}, DEV).config;
    a.transports.push("polling");
    a.limits.burst = 1;
    const b = resolveConfig({}, DEV).config;
    expect(b.transports).toEqual(["websocket", "polling"]);
    expect(b.limits.burst).toBe(60);
  });

  it("does not alias the input's arrays", () => {
    const transports: ("websocket" | "polling")[] = ["websocket"];
    const { config } = resolveConfig({ transports }, DEV);
    transports.push("polling");
    expect(config.transports).toEqual(["websocket"]);
  });

  it("merges a partial input over the defaults at every level", () => {
    const { config } = resolveConfig(
      { path: "/rt", limits: { burst: 5 }, scale: { stateStore: { prefix: "app1:" } }, logging: { level: "debug" } },
      DEV,
    );
    expect(config.path).toBe("/rt");
    expect(config.limits).toEqual({ ...EXPECTED_DEFAULTS.limits, burst: 5 });
    expect(config.scale.stateStore).toEqual({ type: "memory", prefix: "app1:" });
    expect(config.logging).toEqual({ level: "debug", pretty: true });
    expect(config.transports).toEqual(["websocket", "polling"]);
  });

  it("treats undefined values as absent", () => {
    const { config } = resolveConfig({ path: undefined, limits: { burst: undefined } }, DEV);
    expect(config.path).toBe("/wss");
    expect(config.limits.burst).toBe(60);
  });
});

describe("production vs development", () => {
  const saved = process.env.NODE_ENV;
  afterEach(() => {
    process.env.NODE_ENV = saved;
  });

  it("reads NODE_ENV from process.env when called", () => {
    process.env.NODE_ENV = "production";
    expect(() => resolveConfig({})).toThrow(/allowedOrigins: required in production/);
    expect(resolveConfig({ allowedOrigins: ORIGINS }).production).toBe(true);
    process.env.NODE_ENV = "staging";
    expect(resolveConfig({}).production).toBe(false);
  });

  it('only "production" is production', () => {
    for (const NODE_ENV of ["development", "test", "Production", "", undefined]) {
      expect(resolveConfig({}, { NODE_ENV }).production).toBe(false);
    }
  });

  it("requires allowedOrigins in production", () => {
    expect(problemsOf({}, PROD)).toEqual([
      '- allowedOrigins: required in production (NODE_ENV=production): list the origins allowed to connect, e.g. ["https://app.example.com"]',
    ]);
  });

  it('refuses "*" in production', () => {
    expect(problemsOf({ allowedOrigins: "*" }, PROD)).toEqual([
      '- allowedOrigins: expected a list of origins like ["https://app.example.com"] in production (NODE_ENV=production), got "*"',
    ]);
  });

  it("defaults logging.pretty to false in production, true in development", () => {
    const prod = resolveConfig({ allowedOrigins: ORIGINS }, PROD);
    expect(prod.production).toBe(true);
    expect(prod.config.logging.pretty).toBe(false);
    expect(resolveConfig({}, DEV).config.logging.pretty).toBe(true);
    expect(resolveConfig({ allowedOrigins: ORIGINS, logging: { pretty: true } }, PROD).config.logging.pretty).toBe(true);
  });
});

describe("validation rules", () => {
  it.each<[string, unknown, string]>([
    ["config not an object", "nope", '- config: expected an object, got "nope"'],
    ["config an array", [], "- config: expected an object, got []"],
    ["enabled", { enabled: "yes" }, '- enabled: expected true or false, got "yes"'],
    [
      "path without slash",
      { path: "wss" },
      '- path: expected a URL path starting with "/" (no spaces, "?" or "#"), e.g. "/wss", got "wss"',
    ],
    [
      "path with query",
      { path: "/wss?x=1" },
      '- path: expected a URL path starting with "/" (no spaces, "?" or "#"), e.g. "/wss", got "/wss?x=1"',
    ],
    [
      "transports empty",
      { transports: [] },
      '- transports: expected a non-empty list of "websocket" and/or "polling" (no repeats), got []',
    ],
    [
      "transports unknown",
      { transports: ["websocket", "sse"] },
      '- transports: expected a non-empty list of "websocket" and/or "polling" (no repeats), got ["websocket","sse"]',
    ],
    [
      "transports repeated",
      { transports: ["polling", "polling"] },
      '- transports: expected a non-empty list of "websocket" and/or "polling" (no repeats), got ["polling","polling"]',
    ],
    [
      "transports string",
      { transports: "websocket" },
      '- transports: expected a non-empty list of "websocket" and/or "polling" (no repeats), got "websocket"',
    ],
    ["pingIntervalMs 0", { pingIntervalMs: 0 }, "- pingIntervalMs: expected an integer between 1 and 2147483647, got 0"],
    ["pingTimeoutMs NaN", { pingTimeoutMs: Number.NaN }, "- pingTimeoutMs: expected an integer between 1 and 2147483647, got NaN"],
    ["pingTimeoutMs too big", { pingTimeoutMs: 2 ** 31 }, "- pingTimeoutMs: expected an integer between 1 and 2147483647, got 2147483648"],
    ["maxPayloadBytes fraction", { maxPayloadBytes: 1.5 }, "- maxPayloadBytes: expected an integer >= 1, got 1.5"],
    ["maxPayloadBytes string", { maxPayloadBytes: "64kb" }, '- maxPayloadBytes: expected an integer >= 1, got "64kb"'],
    [
      "allowedOrigins empty",
      { allowedOrigins: [] },
      '- allowedOrigins: expected "*" or a non-empty list of origins like ["https://app.example.com"], got []',
    ],
    [
      "allowedOrigins string",
      { allowedOrigins: "https://a.com" },
      '- allowedOrigins: expected "*" or a non-empty list of origins like ["https://app.example.com"], got "https://a.com"',
    ],
    [
      "origin with path",
      { allowedOrigins: ["https://a.com/app"] },
      '- allowedOrigins[0]: expected an origin like "https://app.example.com" (scheme://host[:port], no path, no trailing "/", no wildcard), got "https://a.com/app"',
    ],
    [
      "origin with trailing slash",
      { allowedOrigins: ["https://a.com", "https://b.com/"] },
      '- allowedOrigins[1]: expected an origin like "https://app.example.com" (scheme://host[:port], no path, no trailing "/", no wildcard), got "https://b.com/"',
    ],
    [
      "origin without scheme",
      { allowedOrigins: ["app.example.com"] },
      '- allowedOrigins[0]: expected an origin like "https://app.example.com" (scheme://host[:port], no path, no trailing "/", no wildcard), got "app.example.com"',
    ],
    [
      "origin wildcard",
      { allowedOrigins: ["https://*.example.com"] },
      '- allowedOrigins[0]: expected an origin like "https://app.example.com" (scheme://host[:port], no path, no trailing "/", no wildcard), got "https://*.example.com"',
    ],
    [
      "origin not a string",
      { allowedOrigins: [42] },
      '- allowedOrigins[0]: expected an origin like "https://app.example.com" (scheme://host[:port], no path, no trailing "/", no wildcard), got 42',
    ],
    [
      "star inside a list",
      { allowedOrigins: ["*"] },
      '- allowedOrigins[0]: expected an origin; to allow any origin write allowedOrigins: "*" (not inside a list), got "*"',
    ],
    [
      "trustProxy",
      { trustProxy: "yes" },
      '- trustProxy: expected false, true, a hop count (an integer >= 1) or a non-empty list of proxy addresses/CIDRs (e.g. ["10.0.0.0/8", "loopback"]), got "yes"',
    ],
    [
      "trustProxy hops",
      { trustProxy: 1.5 },
      '- trustProxy: expected false, true, a hop count (an integer >= 1) or a non-empty list of proxy addresses/CIDRs (e.g. ["10.0.0.0/8", "loopback"]), got 1.5',
    ],
    [
      "trustProxy entry",
      { trustProxy: ["10.0.0.1", "nope"] },
      '- trustProxy[1]: expected an IP address, a CIDR like "10.0.0.0/8" or one of "loopback", "linklocal", "uniquelocal", got "nope"',
    ],
    ["scale not an object", { scale: "cluster" }, '- scale: expected an object, got "cluster"'],
    ["scale.mode", { scale: { mode: "multi" } }, '- scale.mode: expected one of "single" | "cluster", got "multi"'],
    ["scale.adapter not an object", { scale: { adapter: "redis://x" } }, '- scale.adapter: expected an object, got "redis://x"'],
    [
      "scale.adapter.type",
      { scale: { adapter: { type: "nats", url: "redis://h" } } },
      '- scale.adapter.type: expected one of "redis" | "custom", got "nats"',
    ],
    [
      "scale.adapter.url scheme",
      { scale: { adapter: { type: "redis", url: "http://h:6379" } } },
      '- scale.adapter.url: expected a Redis URL like "redis://localhost:6379" (redis:// or rediss://), got "http://h:6379"',
    ],
    [
      "scale.adapter.url garbage",
      { scale: { adapter: { type: "redis", url: "localhost:6379" } } },
      '- scale.adapter.url: expected a Redis URL like "redis://localhost:6379" (redis:// or rediss://), got "localhost:6379"',
    ],
    [
      "scale.stateStore.type",
      { scale: { stateStore: { type: "postgres" } } },
      '- scale.stateStore.type: expected one of "memory" | "redis", got "postgres"',
    ],
    [
      "scale.stateStore.url",
      { scale: { stateStore: { type: "redis", url: 6379 } } },
      '- scale.stateStore.url: expected a Redis URL like "redis://localhost:6379" (redis:// or rediss://), got 6379',
    ],
    [
      "scale.stateStore.prefix empty",
      { scale: { stateStore: { prefix: "" } } },
      '- scale.stateStore.prefix: expected a non-empty string, e.g. "loly:", got ""',
    ],
    [
      "scale.commandTimeoutMs",
      { scale: { commandTimeoutMs: -1 } },
      "- scale.commandTimeoutMs: expected an integer between 1 and 2147483647, got -1",
    ],
    ["limits.connectionsPerIp", { limits: { connectionsPerIp: 0 } }, "- limits.connectionsPerIp: expected an integer >= 1, got 0"],
    ["limits.eventsPerSecond", { limits: { eventsPerSecond: 0 } }, "- limits.eventsPerSecond: expected a number > 0, got 0"],
    [
      "limits.eventsPerSecond Infinity",
      { limits: { eventsPerSecond: Infinity } },
      "- limits.eventsPerSecond: expected a number > 0, got Infinity",
    ],
    ["limits.burst", { limits: { burst: -3 } }, "- limits.burst: expected a number >= 1, got -3"],
    ["limits.scope", { limits: { scope: "room" } }, '- limits.scope: expected one of "socket" | "ip" | "user", got "room"'],
    ["limits.onStoreError", { limits: { onStoreError: "fail" } }, '- limits.onStoreError: expected one of "allow" | "deny", got "fail"'],
    ["presence.ttlMs", { presence: { ttlMs: 0.5 } }, "- presence.ttlMs: expected an integer between 100 and 2147483647, got 0.5"],
    [
      "logging.level",
      { logging: { level: "verbose" } },
      '- logging.level: expected one of "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent", got "verbose"',
    ],
    ["logging.pretty", { logging: { pretty: "yes" } }, '- logging.pretty: expected true or false, got "yes"'],
    ["metrics.enabled", { metrics: { enabled: null } }, "- metrics.enabled: expected true or false, got null"],
    [
      "metrics.path",
      { metrics: { path: "metrics" } },
      '- metrics.path: expected a URL path starting with "/" (no spaces, "?" or "#"), e.g. "/wss", got "metrics"',
    ],
    [
      "metrics.path equals path",
      { metrics: { path: "/wss" } },
      '- metrics.path: "/wss" collides with the Socket.IO path "/wss": choose a path outside it, e.g. "/metrics"',
    ],
    [
      "metrics.path under path",
      { path: "/rt/", metrics: { path: "/rt/metrics" } },
      '- metrics.path: "/rt/metrics" collides with the Socket.IO path "/rt/": choose a path outside it, e.g. "/metrics"',
    ],
    ["handlerTimeoutMs", { handlerTimeoutMs: -5 }, "- handlerTimeoutMs: expected an integer between 0 and 2147483647, got -5"],
    [
      "handlerTimeoutMs function",
      { handlerTimeoutMs: () => 1 },
      "- handlerTimeoutMs: expected an integer between 0 and 2147483647, got a function",
    ],
  ])("%s", (_name, input, line) => {
    expect(problemsOf(input)).toEqual([line]);
  });

  it("accepts valid edge values", () => {
    const { config } = resolveConfig(
      {
        path: "/",
        transports: ["polling"],
        pingIntervalMs: 1000,
        pingTimeoutMs: 5000,
        handlerTimeoutMs: 0,
        limits: { burst: 1, eventsPerSecond: 0.5, scope: "user", onStoreError: "deny" },
        metrics: { enabled: false, path: "/" },
        logging: { level: "silent" },
      },
      DEV,
    );
    expect(config.pingTimeoutMs).toBeGreaterThan(config.pingIntervalMs);
    expect(config.handlerTimeoutMs).toBe(0);
    expect(config.limits).toMatchObject({ burst: 1, eventsPerSecond: 0.5, scope: "user", onStoreError: "deny" });
    expect(config.metrics).toEqual({ enabled: false, path: "/", host: "127.0.0.1" });
  });

  it("normalizes origins the way browsers send them", () => {
    const { config } = resolveConfig(
      { allowedOrigins: ["https://App.Example.com:443", "http://localhost:5173", "https://app.example.com", "capacitor://Localhost"] },
      PROD,
    );
    expect(config.allowedOrigins).toEqual(["https://app.example.com", "http://localhost:5173", "capacitor://localhost"]);
  });
});

describe("unknown keys", () => {
  it.each<[unknown, string]>([
    [{ pth: "/x" }, "- pth: unknown key (did you mean path?)"],
    [{ limits: { brust: 10 } }, "- limits.brust: unknown key (did you mean limits.burst?)"],
    [{ limits: { EventsPerSecond: 10 } }, "- limits.EventsPerSecond: unknown key (did you mean limits.eventsPerSecond?)"],
    [{ adapter: { type: "redis" } }, "- adapter: unknown key (did you mean scale.adapter?)"],
    [{ scale: { stateStore: { prefx: "a:" } } }, "- scale.stateStore.prefx: unknown key (did you mean scale.stateStore.prefix?)"],
    [{ scale: { adapter: { type: "redis", url: "redis://h", host: "h" } } }, "- scale.adapter.host: unknown key; allowed here: type, url"],
  ])("%j", (input, start) => {
    const lines = problemsOf(input);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.startsWith(start)).toBe(true);
  });

  it("lists the keys allowed at that level", () => {
    expect(problemsOf({ metrics: { enable: true } })).toEqual([
      "- metrics.enable: unknown key (did you mean metrics.enabled?); allowed here: enabled, path, port, host",
    ]);
  });
});
