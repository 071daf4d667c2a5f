import { randomUUID } from "node:crypto";
import { ERROR_EVENT, LolyError } from "@loly-rt/core";
import { withTimeout } from "@loly-rt/core/internal";
import type { Outages } from "../backends/outages.js";
import type { SocketRecord } from "../socket/record.js";
import type { RevalidateFilter, RevalidateResult } from "../types.js";
import { callAuth, sameUser } from "./auth.js";

/** Sockets re-checked at once by `revalidate` (an auth hook may call a database). */
const REVALIDATE_CONCURRENCY = 32;

/**
 * `revalidate` on this instance: re-runs the auth hook of the matching sockets (at most
 * {@link REVALIDATE_CONCURRENCY} at once) and disconnects those it no longer admits as the
 * same user.
 */
export async function revalidateLocal(
  records: Iterable<SocketRecord>,
  filter: RevalidateFilter,
  outages: Outages,
): Promise<RevalidateResult> {
  const result: RevalidateResult = { instances: 1, checked: 0, disconnected: 0, failed: 0, missing: [] };
  const userId = filter.userId === undefined ? undefined : String(filter.userId);
  const targets = [...records].filter(
    (rec) =>
      rec.route.route.auth !== undefined &&
      (userId === undefined || rec.userId === userId) &&
      (filter.namespace === undefined || rec.socket.nsp.name === filter.namespace || rec.route.pattern === filter.namespace),
  );
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < targets.length) await recheck(targets[next++] as SocketRecord, result, outages);
  };
  await Promise.all(Array.from({ length: Math.min(REVALIDATE_CONCURRENCY, targets.length) }, worker));
  return result;
}

async function recheck(rec: SocketRecord, result: RevalidateResult, outages: Outages): Promise<void> {
  const { socket, shared } = rec;
  if (!socket.connected) return;
  result.checked++;
  let keep: boolean;
  try {
    const pending = callAuth(socket, rec.route, shared, rec.ip, rec.params);
    const timeoutMs = shared.config.handlerTimeoutMs;
    keep = sameUser(await (timeoutMs > 0 ? withTimeout(pending, timeoutMs, "auth") : pending), rec.user);
  } catch (err) {
    if (LolyError.is(err) && err.code === "UNAVAILABLE") {
      result.failed++;
      outages.degraded("revalidate", err, "revalidate: auth hook unavailable; socket left connected", {
        namespace: socket.nsp.name,
        socketId: socket.id,
      });
      return;
    }
    keep = false;
  }
  if (keep || !socket.connected) return;
  result.disconnected++;
  shared.logger.info(
    { namespace: socket.nsp.name, socketId: socket.id, userId: rec.userId },
    "revalidate: authentication no longer valid, socket disconnected",
  );
  socket.emit(ERROR_EVENT, {
    code: "UNAUTHORIZED",
    message: "Authentication is no longer valid",
    event: "revalidate",
    requestId: randomUUID(),
  });
  socket.disconnect(true);
}
