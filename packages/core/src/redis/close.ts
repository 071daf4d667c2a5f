import type { RedisClientLike } from "./client.js";

/** What {@link closeRedisClient} needs of a client. */
export type ClosableRedisClient = Pick<RedisClientLike, "status" | "quit" | "disconnect" | "once" | "off">;

/** Options of {@link closeRedisClient}. */
export interface CloseRedisClientOptions {
  /**
   * The longest wait, in milliseconds, for the connection to end after QUIT (or after dropping
   * a connection attempt); then the client is disconnected and the promise resolves.
   * @default 2000
   */
  timeoutMs?: number;
}

/**
 * Ends a client you own, whatever its state, and resolves once its connection is gone (never
 * rejects, never waits more than `timeoutMs`):
 * - `"ready"`: QUIT, so commands already sent get their answers (disconnect if QUIT fails);
 * - `"reconnecting"`: disconnect (between attempts there is no socket: cancelling the retry
 *   timer is all it takes, and ioredis emits no `"end"` in this state);
 * - not connected yet: disconnect (QUIT would wait in the offline queue);
 * - `"end"`: nothing.
 *
 * @example
 * await closeRedisClient(redis);                       // QUIT, at most 2 s
 * await closeRedisClient(subscriber, { timeoutMs: 1000 });
 */
export function closeRedisClient(client: ClosableRedisClient, options: CloseRedisClientOptions = {}): Promise<void> {
  const status = client.status;
  if (status === "end") return Promise.resolve();
  if (status === "reconnecting") {
    client.disconnect();
    return Promise.resolve();
  }
  const timeoutMs = options.timeoutMs ?? 2000;
  return new Promise<void>((resolve) => {
    // QUIT resolves on its reply; the socket is gone only at "end" (bounded, in case the
    // client is in a state where it never emits it).
    const timer = setTimeout(() => {
      client.disconnect();
      ended();
    }, timeoutMs);
    const ended = (): void => {
      clearTimeout(timer);
      client.off("end", ended);
      resolve();
    };
    client.once("end", ended);
    if (status === "ready") client.quit().catch(() => client.disconnect());
    else client.disconnect();
  });
}
