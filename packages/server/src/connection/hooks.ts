import { thrownMessage, type ConnectionHook, type LolyLogger } from "@loly-rt/core";
import { EventContext } from "../pipeline/context.js";
import type { SocketRecord } from "../socket/record.js";

/** Runs a connection hook (`onConnect`, `onDisconnect`); a throw is logged, never fatal. */
export async function runHook(
  rec: SocketRecord,
  // biome-ignore lint/suspicious/noExplicitAny: hooks of every user type
  hook: ConnectionHook<any>,
  event: "connect" | "disconnect",
  reason?: string,
): Promise<void> {
  const ctx = new EventContext(rec, event, undefined);
  if (reason !== undefined) ctx.reason = reason;
  try {
    await hook(ctx as never);
  } catch (err) {
    try {
      ctx.log.error({ err }, `${event === "connect" ? "onConnect" : "onDisconnect"} failed: ${thrownMessage(err)}`);
    } catch {
      // ignore logger failures
    }
  }
}

/** The connection work still running (hooks, presence cleanup), so a shutdown can wait for it. */
export class PendingWork {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly logger: LolyLogger,
    /** How long {@link drain} waits; 0 or less = until done. */
    private readonly limitMs: number,
  ) {}

  track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Waits for the tracked work, at most `limitMs` (a hook that never settles must not stop a shutdown). */
  async drain(): Promise<void> {
    if (this.pending.size === 0) return;
    const all = Promise.allSettled([...this.pending]).then(() => true);
    const limit = this.limitMs;
    if (!(limit > 0)) {
      await all;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), limit);
    });
    const finished = await Promise.race([all, late]);
    clearTimeout(timer);
    if (!finished) {
      const hooks = this.pending.size;
      this.logger.warn(
        { component: "close", hooks },
        `close: ${hooks} connection hook(s) still running after handlerTimeoutMs (${limit} ms); closing anyway`,
      );
    }
  }
}
