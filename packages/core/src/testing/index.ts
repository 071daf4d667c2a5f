/**
 * Conformance suites for implementations of the core contracts. Import from
 * `@loly-rt/core/testing` inside a vitest test file (vitest is an optional peer dependency).
 */

// State stores
export { describeStoreConformance } from "./store.js";
export type { StoreFactory, StoreConformanceOptions } from "./store.js";

// Presence backends
export { describePresenceConformance } from "./presence.js";
export type { PresenceConformanceOptions } from "./presence.js";
