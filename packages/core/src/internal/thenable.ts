/** True for a promise or any object with a callable `then` (what `await` would adopt). */
export function isThenable<T = unknown>(value: unknown): value is PromiseLike<T> {
  return (
    value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as PromiseLike<T>).then === "function"
  );
}
