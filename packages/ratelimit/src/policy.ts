import { isThenable, withTimeout } from "@loly-rt/core/internal";
import { createOutageReporter } from "@loly-rt/core/redis";
import type { RateLimitBackend, RateLimitDecision, TokenBucketSpec } from "@loly-rt/core";

/** Options of {@link withStorePolicy}. */
export interface StorePolicyOptions {
  /**
   * The decision when the store fails or does not answer in time: `allow` admits
   * (fail-open: the service keeps working, unlimited), `deny` refuses (fail-closed: nothing
   * passes until the store is back). The server passes `limits.onStoreError`.
   */
  onStoreError: "allow" | "deny";
  /**
   * The longest a decision (or a reset) waits for the store, in milliseconds; then the
   * policy decides. `<= 0` or `Infinity` means no bound. The server passes
   * `scale.commandTimeoutMs`.
   */
  timeoutMs: number;
  /**
   * `retryAfterMs` of a refusal under the `deny` policy.
   * @default 1000
   */
  denyRetryAfterMs?: number;
  /** Called once when an outage starts (the first failure after a success), with its error. */
  onOutage?: (err: unknown) => void;
  /** Called once when a decision succeeds again after an outage. */
  onRecover?: () => void;
}

/** A backend with a store-error policy; `outage` tells whether the store is failing now. */
export interface StorePolicyBackend extends RateLimitBackend {
  /** True from the first failure until the next success. */
  readonly outage: boolean;
  /** Closes the wrapped backend. */
  close(): Promise<void>;
}

const ALLOWED: RateLimitDecision = Object.freeze({ allowed: true, remaining: 0, retryAfterMs: 0 });

/**
 * Gives a (cluster-wide) backend a declared behaviour when its store is unreachable, as the
 * server does for every limiter that is not per socket.
 *
 * - Every decision settles within `timeoutMs` (via `withTimeout`), and never rejects: when
 *   the store throws, rejects or is too slow, the answer is the policy's: `allow` →
 *   `{ allowed: true, remaining: 0, retryAfterMs: 0 }`, `deny` →
 *   `{ allowed: false, remaining: 0, retryAfterMs: denyRetryAfterMs }`.
 * - `onOutage(err)` runs once per outage, not per decision; `onRecover()` runs when a
 *   decision succeeds again. Failures of calls started before a recovery do not open a new
 *   outage (they belong to the old one).
 * - `reset(key)` is bounded the same way and never rejects (the bucket expires anyway).
 * - A synchronous backend stays synchronous: its decisions are returned as they are.
 *
 * @example
 * const limiter = withStorePolicy(createRedisRateLimitBackend({ redis }), {
 *   onStoreError: "allow",
 *   timeoutMs: 3000,
 *   onOutage: (err) => log.warn({ err }, "rate-limit store unreachable: admitting"),
 *   onRecover: () => log.info("rate-limit store back"),
 * });
 */
export function withStorePolicy(backend: RateLimitBackend, options: StorePolicyOptions): StorePolicyBackend {
  const { timeoutMs, onOutage, onRecover } = options;
  if (options.onStoreError !== "allow" && options.onStoreError !== "deny") {
    throw new RangeError(`onStoreError must be "allow" or "deny", got ${JSON.stringify(options.onStoreError)}`);
  }
  const fallback: RateLimitDecision =
    options.onStoreError === "deny"
      ? Object.freeze({ allowed: false, remaining: 0, retryAfterMs: options.denyRetryAfterMs ?? 1000 })
      : ALLOWED;
  let calls = 0;
  // Calls numbered up to this one started before the last recovery.
  let recoveredAt = 0;
  // A callback that throws must not turn a decision into a failure: the reporter swallows it.
  const outage = createOutageReporter({
    onFirst: (err) => onOutage?.(err),
    onRecover: () => {
      recoveredAt = calls;
      onRecover?.();
    },
  });

  const failed = (id: number, err: unknown): void => {
    if (outage.down || id <= recoveredAt) return;
    outage.fail(err);
  };
  const succeeded = (): void => outage.ok();
  const onDecision = (decision: RateLimitDecision): RateLimitDecision => {
    succeeded();
    return decision;
  };

  return {
    local: backend.local,

    get outage(): boolean {
      return outage.down;
    },

    consume(key: string, spec: TokenBucketSpec, cost?: number): RateLimitDecision | Promise<RateLimitDecision> {
      const id = ++calls;
      let result: RateLimitDecision | Promise<RateLimitDecision>;
      try {
        result = backend.consume(key, spec, cost);
      } catch (err) {
        failed(id, err);
        return fallback;
      }
      if (!isThenable(result)) {
        succeeded();
        return result;
      }
      return withTimeout(result instanceof Promise ? result : Promise.resolve(result), timeoutMs, "rateLimit.consume").then(
        onDecision,
        (err: unknown) => {
          failed(id, err);
          return fallback;
        },
      );
    },

    reset(key: string): void | Promise<void> {
      const id = ++calls;
      let result: void | Promise<void>;
      try {
        result = backend.reset(key);
      } catch (err) {
        failed(id, err);
        return;
      }
      if (!isThenable(result)) return;
      return withTimeout(Promise.resolve(result), timeoutMs, "rateLimit.reset").then(succeeded, (err: unknown) => {
        failed(id, err);
      });
    },

    async close(): Promise<void> {
      await backend.close?.();
    },
  };
}
