import { LolyError } from "./errors.js";

/**
 * Bounds a promise: rejects with `LolyError("UNAVAILABLE")` when it has not settled within
 * `ms` (the server uses `scale.commandTimeoutMs`). `ms <= 0` or `Infinity` means no bound.
 * The timer is unref'd and cleared on settle, so nothing is left behind.
 *
 * @example
 * const value = await withTimeout(store.get("k"), 3000, "state.get");
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  if (!(ms > 0) || ms === Infinity) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new LolyError("UNAVAILABLE", `${what} did not answer within ${ms} ms`));
    }, ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
