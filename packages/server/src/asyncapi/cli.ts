/**
 * `loly-rt`: the command line of @loly-rt/server (`bin.ts` runs it).
 *
 *   loly-rt asyncapi <routesDir> [-o file] [--title t] [--api-version v] [--host h] [--protocol ws|wss] [--config file.json]
 *
 * writes the AsyncAPI 3.0 document of the routes in `routesDir` (route files in TypeScript
 * need `tsx` installed, as for the server) to stdout or to `file`.
 */
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { RealtimeConfigInput } from "@loly-rt/core";
import { createAsyncApiDocument, type AsyncApiSource } from "./index.js";

export const USAGE = `Usage: loly-rt asyncapi <routesDir> [options]

Writes the AsyncAPI 3.0 document of the routes in <routesDir> (JSON).

Options:
  -o, --output <file>     write to <file> instead of stdout
  --title <title>         info.title (default "Loly Realtime API")
  --api-version <version> info.version: your API's version (default "1.0.0")
  --host <host[:port]>    the server's host as clients reach it (default "localhost:3000")
  --protocol <ws|wss>     (default "ws")
  --config <file.json>    the server's configuration (its path, limits and recovery are described)
  -h, --help              this text
`;

/** Where the command writes. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const VALUE_FLAGS: Record<string, "output" | "title" | "version" | "host" | "protocol" | "config"> = {
  "-o": "output",
  "--output": "output",
  "--title": "title",
  "--api-version": "version",
  "--host": "host",
  "--protocol": "protocol",
  "--config": "config",
};

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs `loly-rt` with `args` (without `node` and the script). Resolves with the exit code:
 * 0 done, 1 the routes or the configuration could not be loaded, 2 a usage error.
 */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  if (command === "-h" || command === "--help" || command === "help") {
    io.stdout(USAGE);
    return 0;
  }
  if (command !== "asyncapi") {
    io.stderr(`${command === undefined ? "a command is needed" : `unknown command ${JSON.stringify(command)}`}\n\n${USAGE}`);
    return 2;
  }
  const opts: Partial<Record<(typeof VALUE_FLAGS)[string], string>> = {};
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (arg === "-h" || arg === "--help") {
      io.stdout(USAGE);
      return 0;
    }
    const [flag, inline] =
      arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const key = VALUE_FLAGS[flag];
    if (key !== undefined) {
      const value = inline ?? rest[++i];
      if (value === undefined || value === "") {
        io.stderr(`${flag} needs a value\n\n${USAGE}`);
        return 2;
      }
      opts[key] = value;
    } else if (arg.startsWith("-") && arg !== "-") {
      io.stderr(`unknown option ${JSON.stringify(arg)}\n\n${USAGE}`);
      return 2;
    } else positional.push(arg);
  }
  if (positional.length !== 1) {
    io.stderr(`${positional.length === 0 ? "the routes folder is needed" : "one routes folder only"}\n\n${USAGE}`);
    return 2;
  }
  if (opts.protocol !== undefined && opts.protocol !== "ws" && opts.protocol !== "wss") {
    io.stderr(`--protocol is ws or wss (got ${JSON.stringify(opts.protocol)})\n`);
    return 2;
  }
  const source: AsyncApiSource = { routesDir: resolve(positional[0] as string) };
  if (opts.title !== undefined) source.title = opts.title;
  if (opts.version !== undefined) source.version = opts.version;
  if (opts.host !== undefined) source.host = opts.host;
  if (opts.protocol !== undefined) source.protocol = opts.protocol as "ws" | "wss";
  try {
    if (opts.config !== undefined) source.config = JSON.parse(await readFile(opts.config, "utf8")) as RealtimeConfigInput;
    const text = `${JSON.stringify(await createAsyncApiDocument(source), null, 2)}\n`;
    if (opts.output === undefined) io.stdout(text);
    else await writeFile(opts.output, text);
  } catch (err) {
    io.stderr(`loly-rt asyncapi: ${errorText(err)}\n`);
    return 1;
  }
  return 0;
}
