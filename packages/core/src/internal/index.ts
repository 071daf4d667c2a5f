// Helpers shared by the @loly-rt packages themselves: not a public API, no semver promise.
export { withTimeout } from "../timeout.js";
export { isThenable } from "./thenable.js";
export * from "../config/runtime.js";
