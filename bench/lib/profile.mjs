/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function and per
 * code area (a workspace package, a node_modules package, node internals).
 */
import { readFileSync } from "node:fs";

/** Where a script URL belongs: "packages/server", "socket.io", "node:internal", ... */
export function areaOf(url) {
  if (!url) return "(native builtins)";
  const ws = url.match(/\/packages\/([^/]+)\//);
  if (ws && !url.includes("/node_modules/")) return `packages/${ws[1]}`;
  const nm = url.match(/.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (nm) return nm[1];
  if (url.startsWith("node:")) return "node:internal";
  if (url.includes("/bench/")) return "bench";
  return url;
}

/**
 * Self time of every function (merged by name + location) and of every area, in ms, with
 * the profile's total sampled time.
 */
export function summarizeProfile(file) {
  const prof = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  const fns = new Map();
  const areas = new Map();
  let total = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const name = cf.functionName || "(anonymous)";
    total += us;
    const url = cf.url ?? "";
    // tsx emits each module on few lines: the file (and the name) locate a function, not the line.
    const short = url
      .replace(/^file:\/\//, "")
      .replace(/^.*\/(packages|node_modules|bench)\//, "$1/")
      .replace(/^node_modules\/\.pnpm\/[^/]+\/node_modules\//, "");
    const key = `${name} ${short}`;
    const f = fns.get(key) ?? { name, where: short, area: areaOf(url), ms: 0 };
    f.ms += us / 1000;
    fns.set(key, f);
    const area = /^\(.*\)$/.test(cf.functionName) ? cf.functionName : url ? areaOf(url) : "(native builtins)";
    areas.set(area, (areas.get(area) ?? 0) + us / 1000);
  }
  const idleMs = areas.get("(idle)") ?? 0;
  const busyMs = total / 1000 - idleMs;
  return {
    busyMs,
    functions: [...fns.values()].sort((a, b) => b.ms - a.ms),
    areas: [...areas.entries()].map(([area, ms]) => ({ area, ms })).sort((a, b) => b.ms - a.ms),
  };
}
