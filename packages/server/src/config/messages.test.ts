import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, describeConfig } from "./index.js";
import { PROD, errorOf } from "./test-support.js";

describe("one message lists every problem", () => {
  it("collects problems from every level into one LolyError", () => {
    const error = errorOf(
      {
        path: "wss",
        limits: { burst: -3, brust: 1 },
        scale: { mode: "cluster" },
        allowedOrigins: "*",
        logging: { level: "loud" },
      },
      PROD,
    );
    expect(error.message).toBe(
      [
        "Invalid realtime config (6 problems):",
        '- path: expected a URL path starting with "/" (no spaces, "?" or "#"), e.g. "/wss", got "wss"',
        "- limits.brust: unknown key (did you mean limits.burst?); allowed here: connectionsPerIp, namespacesPerConnection, maxBufferedBytes, eventsPerSecond, burst, scope, onStoreError",
        "- limits.burst: expected a number >= 1, got -3",
        '- logging.level: expected one of "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent", got "loud"',
        '- allowedOrigins: expected a list of origins like ["https://app.example.com"] in production (NODE_ENV=production), got "*"',
        '- scale.adapter: required when scale.mode is "cluster": add scale.adapter: { type: "redis", url: "redis://..." } (or set scale.mode: "single")',
      ].join("\n"),
    );
    expect(error.details).toMatchObject({
      problems: expect.arrayContaining([{ path: "limits.burst", message: "expected a number >= 1, got -3" }]),
    });
    expect((error.details as { problems: unknown[] }).problems).toHaveLength(6);
  });

  it("says 1 problem in the singular", () => {
    expect(errorOf({ enabled: 0 }).message.split("\n")[0]).toBe("Invalid realtime config (1 problem):");
  });
});

describe("describeConfig", () => {
  function leafPaths(value: unknown, base = ""): string[] {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return [base];
    return Object.entries(value).flatMap(([k, v]) => leafPaths(v, base ? `${base}.${k}` : k));
  }

  function at(path: string): unknown {
    return path.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], DEFAULT_CONFIG);
  }

  it("describes every key with its default and a description", () => {
    const keys = describeConfig();
    const paths = keys.map((k) => k.path);
    expect(new Set(paths).size).toBe(paths.length);
    for (const path of leafPaths(DEFAULT_CONFIG)) expect(paths).toContain(path);
    expect(paths).toEqual(expect.arrayContaining(["scale.adapter", "scale.adapter.type", "scale.adapter.url", "scale.stateStore.url"]));
    for (const key of keys) {
      expect(key.description.length).toBeGreaterThan(10);
      expect(key.type.length).toBeGreaterThan(0);
      if (leafPaths(DEFAULT_CONFIG).includes(key.path)) expect(key.default).toEqual(at(key.path));
    }
  });

  it("marks production-specific defaults", () => {
    const keys = new Map(describeConfig().map((k) => [k.path, k]));
    expect(keys.get("logging.pretty")).toMatchObject({ default: true, productionDefault: false });
    expect(keys.get("allowedOrigins")).toMatchObject({ default: "*", requiredInProduction: true });
    expect(keys.get("limits.burst")).toEqual({
      path: "limits.burst",
      type: "number >= 1",
      default: 60,
      description: "Capacity of the global event bucket: events accepted at once.",
    });
    expect(keys.get("scale.adapter.url")?.default).toBeUndefined();
  });

  it("returns a fresh list", () => {
    const a = describeConfig();
    (a[2] as { default: string[] }).default.push("x");
    expect(describeConfig()[2]?.default).toEqual(["websocket", "polling"]);
  });
});
