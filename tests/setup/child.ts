/** Helpers for test fixtures run as child processes. */
import type { ChildProcess } from "node:child_process";

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
