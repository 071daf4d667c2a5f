/**
 * The configuration types, inferred from the one declaration in `schema.ts`: the doc
 * comments and `@default`s written on its keys show when hovering these types' keys.
 */
import type { InferOutput } from "valibot";
import type { CONFIG_SCHEMA, LOG_LEVELS, TRANSPORTS } from "./schema.js";

export type LogLevel = (typeof LOG_LEVELS)[number];
export type Transport = (typeof TRANSPORTS)[number];

/**
 * The realtime configuration (`config` of `createRealtimeServer`). Every key has a default;
 * `createRealtimeServer` validates the merged result and fails start-up with one message that
 * lists every problem with its key path.
 */
export interface RealtimeConfig extends InferOutput<typeof CONFIG_SCHEMA> {}

/** Where cross-instance fan-out goes in cluster mode. */
export type AdapterConfig = NonNullable<RealtimeConfig["scale"]["adapter"]>;

/** Which store backs `ctx.state`. */
export type StateStoreConfig = RealtimeConfig["scale"]["stateStore"];

/** Recursive partial: what users pass as `config`. */
export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** Connection-state recovery settings. */
export type RecoveryConfig = RealtimeConfig["recovery"];

/** The `config` option of `createRealtimeServer`: any subset of {@link RealtimeConfig}; `recovery: false` turns recovery off. */
export type RealtimeConfigInput = Omit<DeepPartial<RealtimeConfig>, "recovery"> & { recovery?: false | DeepPartial<RecoveryConfig> };
