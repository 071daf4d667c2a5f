import { describeStoreConformance } from "@loly-rt/core/testing";
import { createMemoryStateStore } from "./index.js";

describeStoreConformance("@loly-rt/state-memory", () => createMemoryStateStore());
describeStoreConformance("@loly-rt/state-memory with maxKeys", () => createMemoryStateStore({ maxKeys: 100_000, sweepIntervalMs: 50 }));
