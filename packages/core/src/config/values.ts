/**
 * The value rules of the configuration that are not a schema library's job: what counts as
 * an object, a Redis URL and an origin. Shared by the schema and by the server's resolver
 * (which checks `REDIS_URL` and walks the input with the same rules).
 */

/** The example origin the messages show. */
export const ORIGIN_EXAMPLE = '"https://app.example.com"';

/** What a Redis URL must look like, as the messages say it. */
export const REDIS_URL_EXPECTED = 'a Redis URL like "redis://localhost:6379" (redis:// or rediss://)';

/** A plain object (`{}` or `Object.create(null)`): not an array, a class instance or null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A `redis://` or `rediss://` URL with a host. */
export function isRedisUrl(value: unknown): value is string {
  if (typeof value !== "string") return false;
  try {
    const url = new URL(value);
    return (url.protocol === "redis:" || url.protocol === "rediss:") && url.hostname !== "";
  } catch {
    return false;
  }
}

/** An Origin header value: scheme://host[:port], no path. Returns the canonical form or null. */
export function canonicalOrigin(value: unknown): string | null {
  if (typeof value !== "string" || value.includes("*") || !/^[a-z][a-z0-9+.-]*:\/\/[^/?#\s@]+$/i.test(value)) return null;
  try {
    const url = new URL(value);
    // Browsers send http(s) origins lower-cased and without the default port; match that.
    return url.origin !== "null" ? url.origin : value.toLowerCase();
  } catch {
    return null;
  }
}
