import type { RevalidateFilter, RevalidateResult } from "../types.js";

/**
 * The commands instances send each other (server-side events of the main namespace, through
 * the adapter). Each has its event name, what it carries, and what an answer looks like;
 * anything that arrives is checked against it before use.
 */
export const CLUSTER_EVENTS = {
  /** Disconnect every socket of a user (payload: the user id). No answer. */
  disconnectUser: "loly:disconnectUser",
  /** Re-run auth for matching sockets (payload: a {@link RevalidateFilter}); answers a {@link RevalidateResult}. */
  revalidate: "loly:revalidate",
} as const;

/** A `disconnectUser` payload. */
export function isUserId(value: unknown): value is string {
  return typeof value === "string";
}

/** A `revalidate` payload (also what `rt.revalidate(filter)` accepts). */
export function isRevalidateFilter(value: unknown): value is RevalidateFilter {
  if (typeof value !== "object" || value === null) return false;
  const f = value as Record<string, unknown>;
  return (
    (f.userId === undefined || typeof f.userId === "string" || typeof f.userId === "number") &&
    (f.namespace === undefined || typeof f.namespace === "string")
  );
}

/** A `revalidate` answer. */
export function isRevalidateResult(value: unknown): value is RevalidateResult {
  const r = value as RevalidateResult | null;
  return (
    typeof r === "object" &&
    r !== null &&
    typeof r.checked === "number" &&
    typeof r.disconnected === "number" &&
    typeof r.failed === "number"
  );
}
