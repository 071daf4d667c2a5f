// Helpers shared by the @loly-rt packages themselves: not a public API, no semver promise.
export { withTimeout } from "../timeout.js";
export { isThenable } from "./thenable.js";
export { compileSchema } from "../schema.js";
export { ROUTE_BRAND } from "../route.js";
export { rateLimitProblems, isValidRateLimitValue, RATE_LIMIT_BOUNDS, RATE_LIMIT_SCOPES } from "../config/rate-limit.js";
export type { RateLimitProblem, RateLimitNumberKey } from "../config/rate-limit.js";
