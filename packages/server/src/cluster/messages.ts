import type { FetchSocketsFilter, FetchedSocket, RevalidateFilter } from "../types.js";

/**
 * The one server-side event (of the main namespace, through the adapter) instances exchange.
 * Every message is a {@link ClusterMessage}; anything that arrives is checked with
 * {@link isClusterMessage} (and an answer with {@link isAnswer}) before use, and anything of
 * another protocol version is ignored, so instances of two versions can run side by side
 * during a deploy (one that does not understand a request is reported in `missing`).
 */
export const CLUSTER_EVENT = "loly:cluster";

/** The protocol version this instance speaks (`v` of every message). */
export const PROTOCOL = 1;

/** The calls an instance asks the others to run. */
export type ClusterOp = "disconnectUser" | "revalidate" | "fetchSockets";

/** What each call carries, and what one instance answers. */
export interface ClusterOps {
  disconnectUser: { args: { userId: string }; answer: { disconnected: number } };
  revalidate: { args: RevalidateFilter; answer: { checked: number; disconnected: number; failed: number } };
  fetchSockets: { args: FetchSocketsFilter; answer: { sockets: Array<Omit<FetchedSocket, "instance">> } };
}

/** The answer of one instance to `op`. */
export type ClusterAnswer<O extends ClusterOp = ClusterOp> = ClusterOps[O]["answer"];

/** The messages, by `type` (socket.io's own `ClusterMessage` is shaped the same way). */
export type ClusterMessage =
  /** "I am here" (a heartbeat); with `ask`, every instance that hears it says hello back (a newcomer learns who exists). */
  | { v: typeof PROTOCOL; type: "hello"; from: string; ask: boolean }
  /** "I am leaving" (a graceful close): nobody waits for this instance any more. */
  | { v: typeof PROTOCOL; type: "bye"; from: string }
  /** Run `op` on your sockets and answer `rid` to `from`. */
  | { [O in ClusterOp]: { v: typeof PROTOCOL; type: "request"; from: string; rid: string; op: O; args: ClusterOps[O]["args"] } }[ClusterOp]
  /** The answer to request `rid` of instance `to` (every instance receives it; only `to` reads it). */
  | { v: typeof PROTOCOL; type: "reply"; from: string; to: string; rid: string; answer: unknown };

/** Longest instance id or request id taken from another instance. */
const MAX_ID_LENGTH = 256;

const isId = (value: unknown): value is string => typeof value === "string" && value.length > 0 && value.length <= MAX_ID_LENGTH;
const isCount = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value) && value >= 0;
const isOptionalKey = (value: unknown): boolean =>
  value === undefined || typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** A message of this protocol, well formed (the `args` of a request included). */
export function isClusterMessage(value: unknown): value is ClusterMessage {
  if (!isRecord(value) || value.v !== PROTOCOL || !isId(value.from)) return false;
  switch (value.type) {
    case "hello":
      return typeof value.ask === "boolean";
    case "bye":
      return true;
    case "request":
      return isId(value.rid) && isArgs(value.op, value.args);
    case "reply":
      return isId(value.rid) && isId(value.to);
    default:
      return false;
  }
}

function isArgs(op: unknown, args: unknown): boolean {
  switch (op) {
    case "disconnectUser":
      return isRecord(args) && typeof args.userId === "string";
    case "revalidate":
      return isRevalidateFilter(args);
    case "fetchSockets":
      return isFetchSocketsFilter(args);
    default:
      return false;
  }
}

/** A `revalidate` filter (what `rt.revalidate(filter)` accepts). */
export function isRevalidateFilter(value: unknown): value is RevalidateFilter {
  return isRecord(value) && isOptionalKey(value.userId) && (value.namespace === undefined || typeof value.namespace === "string");
}

/** A `fetchSockets` filter (what `rt.fetchSockets(filter)` accepts). */
export function isFetchSocketsFilter(value: unknown): value is FetchSocketsFilter {
  return (
    isRecord(value) &&
    isOptionalKey(value.user) &&
    (value.room === undefined || typeof value.room === "string") &&
    (value.namespace === undefined || typeof value.namespace === "string")
  );
}

/** An answer to `op` as another instance sends it. */
export function isAnswer<O extends ClusterOp>(op: O, value: unknown): value is ClusterAnswer<O> {
  if (!isRecord(value)) return false;
  switch (op) {
    case "disconnectUser":
      return isCount(value.disconnected);
    case "revalidate":
      return isCount(value.checked) && isCount(value.disconnected) && isCount(value.failed);
    case "fetchSockets":
      return Array.isArray(value.sockets) && value.sockets.every(isSocketInfo);
    default:
      return false;
  }
}

function isSocketInfo(value: unknown): boolean {
  return (
    isRecord(value) &&
    typeof value.id === "string" &&
    typeof value.namespace === "string" &&
    Array.isArray(value.rooms) &&
    value.rooms.every((r) => typeof r === "string") &&
    (value.userId === null || typeof value.userId === "string") &&
    isRecord(value.data)
  );
}
