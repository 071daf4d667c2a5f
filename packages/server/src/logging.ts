import { pino, type DestinationStream, type LoggerOptions } from "pino";
import type { LolyLogger, RealtimeConfig } from "@loly-rt/core";

/**
 * What never reaches a log line: tokens, cookies and authorization headers, wherever they
 * sit in a logged object (up to the depths Loly logs at).
 */
export const REDACT_PATHS: string[] = [
  "authorization",
  "cookie",
  "token",
  "password",
  "*.authorization",
  "*.cookie",
  "*.token",
  "*.password",
  "*.accessToken",
  "*.refreshToken",
  "headers.authorization",
  "headers.cookie",
  "headers[\"set-cookie\"]",
  "*.headers.authorization",
  "*.headers.cookie",
  "*.headers[\"set-cookie\"]",
  "handshake.auth",
  "*.handshake.auth",
  "auth",
  "*.auth",
];

/**
 * Creates the server's pino logger: JSON lines in production, pretty lines in development
 * when `pino-pretty` is installed (an optional dependency; JSON otherwise). Redacts
 * {@link REDACT_PATHS}.
 */
export async function createLogger(
  config: RealtimeConfig,
  options: { destination?: DestinationStream } = {},
): Promise<LolyLogger> {
  const opts: LoggerOptions = {
    level: config.logging.level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
  };
  if (options.destination) return pino(opts, options.destination) as unknown as LolyLogger;
  if (config.logging.pretty) {
    try {
      const mod = (await import("pino-pretty")) as unknown as { default?: (o: object) => DestinationStream };
      const pretty = mod.default ?? (mod as unknown as (o: object) => DestinationStream);
      return pino(opts, pretty({ sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" })) as unknown as LolyLogger;
    } catch {
      // pino-pretty is optional: plain JSON lines without it.
    }
  }
  return pino(opts) as unknown as LolyLogger;
}
