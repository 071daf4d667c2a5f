import { describe, expectTypeOf, it } from "vitest";
import type { RateLimitScope } from "../ratelimit.js";
import type { AdapterConfig, LogLevel, RealtimeConfig, RealtimeConfigInput, StateStoreConfig, Transport } from "./types.js";

describe("the types inferred from the schema", () => {
  it("give each key the type of its values", () => {
    expectTypeOf<RealtimeConfig["enabled"]>().toEqualTypeOf<boolean>();
    expectTypeOf<RealtimeConfig["transports"]>().toEqualTypeOf<Transport[]>();
    expectTypeOf<Transport>().toEqualTypeOf<"websocket" | "polling">();
    expectTypeOf<RealtimeConfig["allowedOrigins"]>().toEqualTypeOf<"*" | string[]>();
    expectTypeOf<RealtimeConfig["limits"]["burst"]>().toEqualTypeOf<number>();
    expectTypeOf<RealtimeConfig["limits"]["scope"]>().toEqualTypeOf<RateLimitScope>();
    expectTypeOf<RealtimeConfig["logging"]["level"]>().toEqualTypeOf<LogLevel>();
    expectTypeOf<StateStoreConfig["type"]>().toEqualTypeOf<"memory" | "redis">();
  });

  it("keep keys without a default optional", () => {
    expectTypeOf<RealtimeConfig["scale"]["adapter"]>().toEqualTypeOf<AdapterConfig | undefined>();
    expectTypeOf<AdapterConfig["url"]>().toEqualTypeOf<string | undefined>();
    expectTypeOf<StateStoreConfig["url"]>().toEqualTypeOf<string | undefined>();
  });

  it("take any subset as input, and refuse wrong values", () => {
    expectTypeOf<{ limits: { burst: 5 } }>().toExtend<RealtimeConfigInput>();
    // biome-ignore lint/complexity/noBannedTypes: the empty config is what is checked
    expectTypeOf<{}>().toExtend<RealtimeConfigInput>();
    expectTypeOf<{ limits: { burst: "5" } }>().not.toExtend<RealtimeConfigInput>();
    expectTypeOf<{ logging: { level: "loud" } }>().not.toExtend<RealtimeConfigInput>();
  });
});
