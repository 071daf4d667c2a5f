/** Helpers for test fixtures run as child processes: starting them, and their side of the READY/CLOSED lines. */
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The repository's root folder (with a trailing slash). */
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Options of {@link spawnTsFixture}. */
export interface TsFixtureOptions {
  /** Added to this process's environment. */
  env?: Record<string, string | undefined>;
  /** Node flags before `--import tsx` (e.g. `--expose-gc`). */
  execArgv?: string[];
  /** @default ["ignore", "pipe", "pipe"] */
  stdio?: StdioOptions;
}

/**
 * Runs a TypeScript fixture in its own Node process through tsx, from the repository root,
 * with the root `tsconfig.json` (its `paths` map `@loly-rt/*` to the packages' sources).
 */
export function spawnTsFixture(file: string, options: TsFixtureOptions = {}): ChildProcess {
  return spawn(process.execPath, [...(options.execArgv ?? []), "--import", "tsx", file], {
    cwd: repoRoot,
    env: { ...process.env, TSX_TSCONFIG_PATH: `${repoRoot}tsconfig.json`, ...options.env },
    stdio: options.stdio ?? ["ignore", "pipe", "pipe"],
  });
}

/**
 * The fixture's side of a graceful stop: on SIGTERM, closes `server` and prints
 * `CLOSED <ms it took>` (exit 0), or `close failed: ...` on stderr (exit 1).
 */
export function closeOnSigterm(server: { close(): Promise<void> }): void {
  process.on("SIGTERM", () => {
    const started = Date.now();
    server.close().then(
      () => {
        process.stdout.write(`CLOSED ${Date.now() - started}\n`);
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`close failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  });
}

/**
 * Collects a child's stdout and stderr into `output` and resolves the port it announces with a
 * `READY <port>` line; rejects (with everything it printed) when it exits first or takes longer
 * than `timeoutMs`.
 */
export function readyPort(proc: ChildProcess, output: string[], exited: Promise<unknown>, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance did not start:\n${output.join("")}`)), timeoutMs);
    proc.stdout?.on("data", (d: Buffer) => {
      const text = d.toString();
      output.push(text);
      const m = /READY (\d+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`instance exited with ${String(code)}:\n${output.join("")}`));
    });
  });
}

/**
 * A test whose hooks time out never stops what it started, and the test runner ends its process
 * with a signal (no `exit` handler runs): a small watchdog (`sh`, detached) SIGKILLs `child`
 * once this process is gone, and then removes `dir` when given. It ends on its own when the
 * child does.
 */
export function killWithThisProcess(child: ChildProcess, dir?: string): void {
  if (child.pid === undefined) return;
  const script =
    'while kill -0 "$1" 2>/dev/null; do kill -0 "$2" 2>/dev/null || exit 0; sleep 0.5; done; kill -9 "$2" 2>/dev/null; [ -n "$3" ] && rm -rf "$3"';
  spawn("sh", ["-c", script, "loly-test-watchdog", String(process.pid), String(child.pid), dir ?? ""], {
    detached: true,
    stdio: "ignore",
  }).unref();
}
