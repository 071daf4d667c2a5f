/**
 * The packages as tarballs, for the suites that install them into a fresh app outside the
 * workspace (`pack.test.ts`, `getting-started.test.ts`): child processes in their own process
 * group, the environment of a tool run outside the workspace, and the build and `pnpm pack`
 * step, one suite at a time (test files run in parallel: two builds at once would rewrite
 * the `dist/` folders the other one packs).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface Packed {
  name: string;
  filename: string;
}

const children = new Set<ChildProcess>();

/** Runs a command in its own process group; kills the group after `timeoutMs`. */
export function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, opts.timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      children.delete(child);
      reject(err);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Kills a child's whole process group (the child and what it started). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Kills every process group started by {@link run} that is still running. */
export function killChildren(): void {
  for (const child of children) killGroup(child);
}

export function describeRun(what: string, r: RunResult): string {
  const how = r.timedOut ? "timed out" : `exited with ${r.code ?? r.signal}`;
  return `${what} ${how}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}

export function expectSuccess(what: string, r: RunResult): void {
  expect(r.code === 0 && !r.timedOut, describeRun(what, r)).toBe(true);
}

/**
 * The environment for tools run outside the workspace: without what pnpm, npm scripts and
 * vitest put there for the workspace (an inherited `npm_config_local_prefix` would make npm
 * install into the workspace root, a `VITEST` variable would confuse the app's own vitest).
 */
export function outsideEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const inherited =
    /^(npm_package_|npm_lifecycle_|npm_command$|npm_execpath$|npm_node_execpath$|npm_config_local_prefix$|npm_config_user_agent$|npm_config_verify_deps_before_run$|pnpm_|init_cwd$|vitest|tsx_|node_options$|node_env$|test$|force_color$)/i;
  for (const [key, value] of Object.entries(process.env)) if (!inherited.test(key)) env[key] = value;
  return { ...env, NO_COLOR: "1", ...extra };
}

/** A `pnpm` on PATH for turbo (which spawns it) and for packing: the running one, else npx. */
export async function pnpmShim(dir: string): Promise<string> {
  const rootPkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { packageManager?: string };
  const execPath = process.env.npm_execpath;
  const command =
    execPath && /pnpm/.test(basename(execPath))
      ? `exec "${process.execPath}" "${execPath}" "$@"`
      : `exec npx -y ${rootPkg.packageManager ?? "pnpm@10"} "$@"`;
  await mkdir(dir, { recursive: true });
  const shim = join(dir, "pnpm");
  await writeFile(shim, `#!/bin/sh\n${command}\n`);
  await chmod(shim, 0o755);
  return dir;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Runs `fn` holding a lock shared by every process of this workspace (a directory created
 * atomically, with the holder's pid); a lock whose holder is gone, or older than `staleMs`, is
 * taken over.
 */
async function withWorkspaceLock<T>(name: string, fn: () => Promise<T>, staleMs = 10 * 60_000): Promise<T> {
  const id = createHash("sha256").update(ROOT).digest("hex").slice(0, 12);
  const lock = join(tmpdir(), `loly-${name}-${id}.lock`);
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, "pid"), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number(await readFile(join(lock, "pid"), "utf8").catch(() => "0"));
      const age =
        Date.now() -
        (await stat(lock).then(
          (s) => s.mtimeMs,
          () => Date.now(),
        ));
      if ((pid > 0 && !alive(pid)) || age > staleMs) await rm(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Builds every package (turbo, cached: a clean clone has no `dist/`) and packs each with
 * `pnpm pack` (which rewrites `workspace:^` to real versions) into `<tmp>/tarballs`; one
 * suite at a time. Returns the tarballs and the folder of the `pnpm` shim it put on PATH.
 */
export async function buildAndPack(tmp: string): Promise<{ packed: Packed[]; bin: string }> {
  const bin = await pnpmShim(join(tmp, "bin"));
  const workspaceEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH ?? ""}`,
    TURBO_TELEMETRY_DISABLED: "1",
    DO_NOT_TRACK: "1",
  };
  const tarballs = join(tmp, "tarballs");
  const packed = await withWorkspaceLock("build-and-pack", async () => {
    const build = await run(join(ROOT, "node_modules/.bin/turbo"), ["run", "build", "--filter=./packages/*", "--output-logs=errors-only"], {
      cwd: ROOT,
      env: workspaceEnv,
      timeoutMs: 180_000,
    });
    expectSuccess("turbo run build", build);
    const pack = await run(join(bin, "pnpm"), ["-r", "--filter=./packages/*", "pack", "--pack-destination", tarballs, "--json"], {
      cwd: ROOT,
      env: workspaceEnv,
      timeoutMs: 60_000,
    });
    expectSuccess("pnpm pack", pack);
    return (JSON.parse(pack.stdout) as Packed[]).map(({ name, filename }) => ({ name, filename }));
  });
  return { packed, bin };
}
