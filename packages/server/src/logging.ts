import { pino, type DestinationStream, type LoggerOptions } from "pino";
import type { LolyLogger, RealtimeConfig } from "@loly-rt/core";

/**
 * What never reaches a log line: tokens, cookies and authorization headers, wherever they
 * sit in a logged object (up to the depths Loly logs at), including a logged `ctx.req` or
 * `ctx.handshake` (their `cookies`, and the query string of `url` / `query`, whose values
 * are masked).
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
  'headers["set-cookie"]',
  "*.headers.authorization",
  "*.headers.cookie",
  '*.headers["set-cookie"]',
  "handshake.auth",
  "*.handshake.auth",
  "auth",
  "*.auth",
  "cookies",
  "*.cookies",
  "url",
  "*.url",
  "query",
  "*.query",
];

/** Query parameters Engine.IO itself sends; every other query value is masked in logs. */
const ENGINE_QUERY = new Set(["EIO", "transport", "t", "b64"]);
const CENSORED = "[redacted]";

/**
 * The redaction censor of the server's logger: `url` keeps its path and masks query values,
 * `query` keeps its keys (and Engine.IO's own values), anything else becomes `[redacted]`.
 * Give it to your own pino logger with {@link REDACT_PATHS}.
 *
 * @example
 * const logger = pino({ redact: { paths: REDACT_PATHS, censor: redactCensor } });
 * await createRealtimeServer({ logger, routes });
 */
export function redactCensor(value: unknown, path: string[]): unknown {
  const key = path[path.length - 1];
  if (key === "url") return typeof value === "string" ? maskUrl(value) : value;
  if (key === "query") {
    if (typeof value !== "object" || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = ENGINE_QUERY.has(k) ? v : CENSORED;
    return out;
  }
  return CENSORED;
}

function maskUrl(url: string): string {
  const q = url.indexOf("?");
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return eq < 0 || ENGINE_QUERY.has(name) ? pair : `${name}=${CENSORED}`;
    });
  return `${url.slice(0, q)}?${params.join("&")}`;
}

/**
 * Creates the server's pino logger: JSON lines in production, pretty lines in development
 * when `pino-pretty` is installed (an optional dependency; JSON otherwise). Redacts
 * {@link REDACT_PATHS}.
 */
export async function createLogger(config: RealtimeConfig, options: { destination?: DestinationStream } = {}): Promise<LolyLogger> {
  const opts: LoggerOptions = {
    level: config.logging.level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: redactCensor as (value: unknown, path: string[]) => unknown },
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
