import type { LolyLogger, RealtimeConfig } from "@loly-rt/core";
import type { ServerOptions } from "socket.io";
import { userIdOf } from "../connection/auth.js";
import { recoveringMemoryAdapter } from "./adapter.js";
import { MemoryPacketLog } from "./memory-log.js";
import { MemorySessions } from "./memory-sessions.js";
import { memoryStore } from "./memory-store.js";
import { Recovery } from "./restore.js";

/**
 * Connection-state recovery for `recovery`, as the Socket.IO options that turn its protocol on
 * (with Loly's middleware, so `auth` runs again). On one instance the log and sessions are in
 * memory, kept by the adapter given here; in cluster mode the Redis adapter keeps them (the
 * backends give the store to `recovery.use`). `undefined` when recovery is off.
 */
export function createRecovery(
  config: RealtimeConfig,
  logger: LolyLogger,
): { recovery: Recovery; ioOptions: Partial<ServerOptions> } | undefined {
  const { enabled, windowMs, maxEvents } = config.recovery;
  if (!enabled) return undefined;
  if (config.scale.mode === "cluster" && config.scale.adapter?.type === "custom") {
    logger.warn(
      { component: "recovery" },
      'recovery: off with a custom adapter (scale.adapter.type "custom"): cluster recovery needs the Redis adapter, which logs the broadcasts',
    );
    return undefined;
  }
  const recovery = new Recovery(windowMs, logger);
  const ioOptions: Partial<ServerOptions> = {
    connectionStateRecovery: { maxDisconnectionDuration: windowMs, skipMiddlewares: false },
  };
  if (config.scale.mode === "single") {
    const log = new MemoryPacketLog(windowMs, maxEvents);
    const sessions = new MemorySessions(windowMs);
    recovery.use(memoryStore(log, sessions));
    ioOptions.adapter = recoveringMemoryAdapter(log, sessions, recovery, userIdOf) as unknown as NonNullable<ServerOptions["adapter"]>;
  }
  return { recovery, ioOptions };
}
