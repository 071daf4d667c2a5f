import { LolyError, type LolyLogger } from "@loly-rt/core";
import type { Server } from "socket.io";
import { userRoom } from "../socket/rooms.js";
import type { RevalidateFilter, RevalidateResult } from "../types.js";
import { CLUSTER_EVENTS, isRevalidateFilter, isRevalidateResult, isUserId } from "./messages.js";

/** How long `revalidate` waits for the other instances (the adapter's request timeout is 5 s). */
const REMOTE_WAIT_MS = 6000;

/** This instance's side of the commands: what runs here, for a local or a remote caller. */
export interface LocalCommands {
  revalidate(filter: RevalidateFilter): Promise<RevalidateResult>;
}

/**
 * `rt.disconnectUser` and `rt.revalidate`: run here, and in cluster mode sent to every other
 * instance (which run them on their own sockets and answer).
 */
export class ClusterCommands {
  constructor(
    private readonly io: Server,
    private readonly clustered: boolean,
    private readonly local: LocalCommands,
    private readonly logger: LolyLogger,
  ) {
    if (!clustered) return;
    io.on(CLUSTER_EVENTS.disconnectUser, (userId: unknown) => {
      if (isUserId(userId)) this.disconnectLocal(userId);
    });
    io.on(CLUSTER_EVENTS.revalidate, (filter: unknown, ack: unknown) => {
      void local.revalidate(isRevalidateFilter(filter) ? filter : {}).then((result) => {
        if (typeof ack === "function") (ack as (r: RevalidateResult) => void)(result);
      });
    });
  }

  /** Disconnects every socket of `userId` in every namespace, here and (cluster mode) everywhere. */
  disconnectUser(userId: string): void {
    const id = String(userId);
    this.disconnectLocal(id);
    // One message for every namespace: another instance may have dynamic children this one lacks.
    if (this.clustered) this.io.serverSideEmit(CLUSTER_EVENTS.disconnectUser, id);
  }

  /** Re-checks auth here and (cluster mode) on every instance that answers in time; sums the results. */
  async revalidate(filter: RevalidateFilter): Promise<RevalidateResult> {
    if (!isRevalidateFilter(filter))
      throw new LolyError("INVALID_CONFIG", "revalidate(filter): filter must be { userId?: string, namespace?: string }");
    const local = this.local.revalidate(filter);
    if (!this.clustered) return local;
    const [mine, theirs] = await Promise.all([local, this.askOthers(filter)]);
    for (const r of theirs) {
      mine.instances += 1;
      mine.checked += r.checked;
      mine.disconnected += r.disconnected;
      mine.failed += r.failed;
    }
    return mine;
  }

  private disconnectLocal(userId: string): void {
    const room = userRoom(userId);
    for (const nsp of this.io._nsps.values()) nsp.local.in(room).disconnectSockets(true);
  }

  private askOthers(filter: RevalidateFilter): Promise<RevalidateResult[]> {
    return new Promise<RevalidateResult[]>((resolve) => {
      // The adapter swallows its own failures (Redis away): bound the wait ourselves.
      const timer = setTimeout(() => {
        this.logger.warn({ component: "revalidate" }, "revalidate: other instances did not answer in time; counting this instance only");
        resolve([]);
      }, REMOTE_WAIT_MS);
      timer.unref();
      this.io.serverSideEmit(CLUSTER_EVENTS.revalidate, filter, (err: Error | null, responses: unknown[]) => {
        clearTimeout(timer);
        if (err) this.logger.warn({ component: "revalidate", err: { message: err.message } }, "revalidate: some instances did not answer");
        resolve((responses ?? []).filter(isRevalidateResult));
      });
    });
  }
}
