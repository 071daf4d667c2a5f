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
