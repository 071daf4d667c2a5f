import type { MemoryPacketLog } from "./memory-log.js";
import type { MemorySessions } from "./memory-sessions.js";
import type { RecoveryStore } from "./store.js";

/** The store of one instance: the in-memory log and sessions (`recoveringMemoryAdapter` writes them). */
export function memoryStore(log: MemoryPacketLog, sessions: MemorySessions): RecoveryStore {
  return {
    position: (nsp) => log.position(nsp),
    after: (nsp, offset) => log.after(nsp, offset),
    sweep(now) {
      log.sweep(now);
      sessions.sweep(now);
    },
  };
}
