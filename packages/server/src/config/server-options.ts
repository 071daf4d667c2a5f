/**
 * The options of `createRealtimeServer` itself, checked like the configuration: an unknown
 * option fails start-up (with a "did you mean"), and `io`, passed to Socket.IO's `Server`,
 * may not set what Loly owns (each refusal names the Loly setting to use).
 */
import { LolyError } from "@loly-rt/core";
import { isPlainObject } from "@loly-rt/core/config";
import type { ServerOptions } from "socket.io";
import { suggest } from "./suggest.js";

/** Every option of `createRealtimeServer` (`RealtimeServerOptions`). */
const OPTIONS = ["config", "routes", "routesDir", "httpServer", "stateStore", "logger", "io"] as const;

/** Socket.IO options Loly sets itself, and where users set them instead. */
export const OWNED_IO_OPTIONS: Readonly<Record<string, string>> = {
  path: "config.path",
  transports: "config.transports",
  pingInterval: "config.pingIntervalMs",
  pingTimeout: "config.pingTimeoutMs",
  maxHttpBufferSize: "config.maxPayloadBytes",
  cors: "config.allowedOrigins",
  allowRequest: "config.allowedOrigins and the route's auth hook",
  adapter: 'config.scale.adapter (type "custom" for an adapter Loly does not build)',
  connectionStateRecovery: "config.recovery",
  connectTimeout: "config.connectTimeoutMs",
};

/** Throws `INVALID_CONFIG` listing every unknown option and every Loly-owned `io` option. */
export function checkServerOptions(options: unknown): void {
  if (options === undefined) return;
  const problems: string[] = [];
  if (!isPlainObject(options)) {
    problems.push(`options: expected an object, got ${typeof options}`);
  } else {
    for (const key of Object.keys(options)) {
      if ((OPTIONS as readonly string[]).includes(key)) continue;
      // A close option name, else a configuration key of that name (it goes under `config`).
      const near = suggest(key, OPTIONS, "");
      const hint = near === undefined ? undefined : (OPTIONS as readonly string[]).includes(near) ? near : `config.${near}`;
      problems.push(
        `${key}: unknown option of createRealtimeServer${hint ? ` (did you mean ${hint}?)` : ""}; allowed: ${OPTIONS.join(", ")}`,
      );
    }
    const io = options.io;
    if (io !== undefined && !isPlainObject(io)) problems.push(`io: expected Socket.IO server options (an object), got ${typeof io}`);
    else if (io !== undefined) {
      for (const key of Object.keys(io)) {
        const owned = OWNED_IO_OPTIONS[key];
        if (owned !== undefined) problems.push(`io.${key}: set by Loly; use ${owned}`);
      }
    }
  }
  if (problems.length === 0) return;
  const count = problems.length;
  throw new LolyError(
    "INVALID_CONFIG",
    `Invalid createRealtimeServer options (${count} problem${count === 1 ? "" : "s"}):\n${problems.map((p) => `- ${p}`).join("\n")}`,
    { problems: problems.map((p) => ({ path: p.slice(0, p.indexOf(":")), message: p.slice(p.indexOf(":") + 2) })) },
  );
}

/** The `io` options as Socket.IO takes them (checked by {@link checkServerOptions}). */
export function ioPassThrough(io: Partial<ServerOptions> | undefined): Partial<ServerOptions> {
  return io === undefined ? {} : { ...io };
}
