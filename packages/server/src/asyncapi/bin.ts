#!/usr/bin/env node
// The `loly-rt` executable (package.json `bin`): runs the command line of `cli.ts`.
import { runCli } from "./cli.js";

runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`loly-rt: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
