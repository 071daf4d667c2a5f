/**
 * Open-file limits (RLIMIT_NOFILE) of the processes of a run: every TCP connection costs one
 * descriptor on each side, so a process holding N connections needs a limit above N. Node has
 * no setrlimit; `prlimit(1)` (util-linux) sets another process's limits, and an unprivileged
 * user may raise a process's soft limit up to its hard limit (raising the hard limit needs
 * CAP_SYS_RESOURCE, i.e. root outside a container that drops it).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** The soft and hard open-file limits of process `pid` (from /proc), or null where there is no /proc. */
export function nofile(pid = process.pid) {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const [soft, hard] = line
      .slice("Max open files".length)
      .trim()
      .split(/\s+/)
      .map((x) => (x === "unlimited" ? Infinity : Number(x)));
    return { soft, hard };
  } catch {
    return null;
  }
}

/**
 * Raises the soft open-file limit of `pid` to its hard limit (with `prlimit`; nothing happens
 * where it is missing or refuses). Resolves the limits it has afterwards, and `raised` when it
 * changed them.
 */
export function raiseNofile(pid = process.pid) {
  const before = nofile(pid);
  if (before === null || before.soft >= before.hard) return { ...before, raised: false };
  try {
    const hard = before.hard === Infinity ? "unlimited" : String(before.hard);
    execFileSync("prlimit", ["--pid", String(pid), `--nofile=${hard}:${hard}`], { stdio: "ignore" });
  } catch {
    // no prlimit, or not allowed: the limits stay as they are (reported by the caller)
  }
  const after = nofile(pid);
  return { ...after, raised: after.soft > before.soft };
}
