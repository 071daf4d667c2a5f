import type { LolyConnectionState, LolyStateDetail } from "./types.js";

/** A client's connection state and its listeners. */
export interface States {
  readonly current: LolyConnectionState;
  readonly recovered: boolean;
  /** Moves to `state` (listeners hear it when it changes, or when it carries an error). */
  set(state: LolyConnectionState, detail: LolyStateDetail): void;
  listen(listener: (state: LolyConnectionState, detail: LolyStateDetail) => void): () => void;
}

/** The connection state of one `lolySocket`, starting at `initial`. */
export function createStates(initial: LolyConnectionState): States {
  let current = initial;
  let recovered = false;
  const listeners = new Set<(state: LolyConnectionState, detail: LolyStateDetail) => void>();
  return {
    get current() {
      return current;
    },
    get recovered() {
      return recovered;
    },
    set(state, detail) {
      if (state === current && detail.error === undefined) return;
      current = state;
      if (state === "connected") recovered = detail.recovered;
      for (const listener of [...listeners]) listener(state, detail);
    },
    listen(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
