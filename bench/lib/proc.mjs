/**
 * Child processes of the runner: servers under test and load generators, each its own OS
 * process talking to the runner over Node's IPC channel (JSON messages `{ type, ... }`).
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));
export const ROOT_DIR = fileURLToPath(new URL("../..", import.meta.url));
/** The root tsconfig maps `@loly-rt/*` to the packages' sources: no build step needed. */
export const TSCONFIG = fileURLToPath(new URL("../../tsconfig.json", import.meta.url));

const live = new Set();

/**
 * Starts `file` (relative to bench/) as a child process with an IPC channel.
 * Every process runs with the same flags (`--expose-gc --import tsx`), servers and load
 * generators alike, so plain Socket.IO and Loly differ only by the code they run.
 */
export function startChild(file, { args = [], env = {}, execArgv = [], label = file } = {}) {
  const child = fork(fileURLToPath(new URL(`../${file}`, import.meta.url)), args, {
    cwd: ROOT_DIR,
    execArgv: ["--expose-gc", "--import", "tsx", ...execArgv],
    env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const proc = new Child(child, label);
  live.add(proc);
  child.once("exit", () => live.delete(proc));
  return proc;
}

/** Kills every child still running (runner exit, Ctrl-C). */
export function killAll() {
  for (const p of live) p.kill();
}

class Child {
  constructor(child, label) {
    this.child = child;
    this.label = label;
    this.queue = [];
    this.waiters = [];
    this.exited = false;
    this.exitInfo = null;
    child.on("message", (msg) => {
      const i = this.waiters.findIndex((w) => w.type === msg.type);
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(msg);
      } else {
        this.queue.push(msg);
      }
    });
    child.once("exit", (code, signal) => {
      this.exited = true;
      this.exitInfo = { code, signal };
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`${this.label} exited (code ${code}, signal ${signal}) while the runner waited for "${w.type}"`));
      }
    });
  }

  /** Resolves the next message of `type` (queued or future); rejects on exit or timeout. */
  next(type, timeoutMs = 60_000) {
    const i = this.queue.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    if (this.exited) {
      return Promise.reject(new Error(`${this.label} has exited (${JSON.stringify(this.exitInfo)}); no "${type}" will come`));
    }
    return new Promise((resolve, reject) => {
      const w = { type, resolve, reject, timer: null };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`${this.label}: no "${type}" message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Sends a command. */
  send(msg) {
    if (!this.exited && this.child.connected) this.child.send(msg);
  }

  /** Sends a command and resolves the reply of type `reply`. */
  ask(msg, reply, timeoutMs) {
    const p = this.next(reply, timeoutMs);
    this.send(msg);
    return p;
  }

  /** Asks the child to stop, and kills it when it does not within `graceMs`. */
  async stop(graceMs = 5000) {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.send({ type: "close" });
    const timer = setTimeout(() => this.kill(), graceMs);
    await exited;
    clearTimeout(timer);
  }

  kill() {
    if (!this.exited) this.child.kill("SIGKILL");
  }
}
