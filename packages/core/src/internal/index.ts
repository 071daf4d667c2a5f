// Helpers shared by the @loly-rt packages themselves: not a public API, no semver promise.
export { withTimeout } from "../timeout.js";
export { isThenable } from "./thenable.js";
export { compileSchema } from "../schema.js";
export { ROUTE_BRAND } from "../route.js";
export * from "../config/runtime.js";
