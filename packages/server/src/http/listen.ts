import { LolyError } from "@loly-rt/core";
import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";

/** Listens on `port` (0 = any free port) and `host`; resolves with the bound port (at once when already listening). */
export function listen(httpServer: HttpServer, port: number, host: string | undefined): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    if (httpServer.listening) {
      resolve((httpServer.address() as AddressInfo).port);
      return;
    }
    const onError = (err: Error): void => reject(err);
    httpServer.once("error", onError);
    const bound = (): void => {
      httpServer.off("error", onError);
      resolve((httpServer.address() as AddressInfo).port);
    };
    if (host) httpServer.listen(port, host, bound);
    else httpServer.listen(port, bound);
  });
}

/**
 * Resolves once `backends.health()` is ok (at once when it is: always on one instance without
 * Redis), checking every 10 ms; rejects with `UNAVAILABLE` naming what is not ready after
 * `timeoutMs`.
 */
export async function untilHealthy(
  backends: { health(): { ok: boolean; details: Record<string, string> } },
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let h = backends.health(); !h.ok; h = backends.health()) {
    if (Date.now() >= deadline) {
      const waiting = Object.entries(h.details)
        .filter(([, status]) => status !== "ready")
        .map(([client, status]) => `${client} ${status}`)
        .join(", ");
      throw new LolyError("UNAVAILABLE", `not ready after ${timeoutMs} ms (scale.commandTimeoutMs): Redis clients ${waiting}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
