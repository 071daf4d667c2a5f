/** Forced garbage collection in a process started without `--expose-gc`. */
import { setImmediate as tick } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;

/** Collects until the heap stops shrinking; resolves `heapUsed` in bytes. */
export async function heapAfterGc(): Promise<number> {
  let last = Infinity;
  for (let i = 0; i < 6; i++) {
    collect();
    await tick();
    const used = process.memoryUsage().heapUsed;
    if (used >= last * 0.995) return used;
    last = used;
  }
  return last;
}
