// Store
export { createMemoryStateStore } from "./memory-store.js";
export type { MemoryStateStore, MemoryStateStoreOptions } from "./memory-store.js";
