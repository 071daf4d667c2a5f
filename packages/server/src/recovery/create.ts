import type { RealtimeConfig } from "@loly-rt/core";
import type { ServerOptions } from "socket.io";
import { userIdOf } from "../connection/auth.js";
import { recoveringMemoryAdapter } from "./adapter.js";
import { MemoryPacketLog } from "./memory-log.js";
import { MemorySessions } from "./memory-sessions.js";
import { Recovery } from "./restore.js";

/**
 * Connection-state recovery for `recovery` (single mode: log and sessions in memory), as the
 * Socket.IO options that turn its protocol on (with Loly's middleware, so `auth` runs again)
 * and the adapter that keeps the log. `undefined` when recovery is off, or in cluster mode
 * (not yet: its log and sessions go to Redis).
 */
export function createRecovery(config: RealtimeConfig): { recovery: Recovery; ioOptions: Partial<ServerOptions> } | undefined {
  const { enabled, windowMs, maxEvents } = config.recovery;
  if (!enabled || config.scale.mode !== "single") return undefined;
  const log = new MemoryPacketLog(windowMs, maxEvents);
  const sessions = new MemorySessions(windowMs);
  const recovery = new Recovery(log, sessions, windowMs);
  const adapter = recoveringMemoryAdapter(log, sessions, recovery, userIdOf);
  return {
    recovery,
    ioOptions: {
      connectionStateRecovery: { maxDisconnectionDuration: windowMs, skipMiddlewares: false },
      adapter: adapter as unknown as NonNullable<ServerOptions["adapter"]>,
    },
  };
}
