// What the other @loly-rt packages need of the configuration at run time (through
// `@loly-rt/core/internal`).
export { rateLimitProblems, isValidRateLimitValue, RATE_LIMIT_BOUNDS, RATE_LIMIT_SCOPES } from "./rate-limit.js";
export type { RateLimitProblem, RateLimitNumberKey } from "./rate-limit.js";
