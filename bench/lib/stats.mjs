/**
 * Small statistics helpers shared by the runner and the load generators.
 * Latencies are recorded in microseconds into a growable Float64Array (no per-sample object).
 */

/** Collects samples (numbers) cheaply; `summary()` sorts once. */
export class Recorder {
  constructor(initial = 1 << 16) {
    this.buf = new Float64Array(initial);
    this.n = 0;
  }

  /** Adds one sample. */
  add(v) {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }

  /** Forgets every sample (keeps the buffer). */
  reset() {
    this.n = 0;
  }

  /** count, mean and the usual percentiles of the samples so far. */
  summary() {
    const a = this.buf.subarray(0, this.n).slice().sort();
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += a[i];
    return {
      count: a.length,
      mean: a.length ? sum / a.length : NaN,
      p50: quantile(a, 0.5),
      p90: quantile(a, 0.9),
      p99: quantile(a, 0.99),
      p999: quantile(a, 0.999),
      max: a.length ? a[a.length - 1] : NaN,
    };
  }
}

/** The q-quantile of an ascending array (nearest rank). NaN when empty. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** Median, min and max of a list of round results (NaN entries ignored). */
export function spread(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

/** Formats a number for the table: thousands separators, sensible decimals. */
export function fmt(x) {
  if (typeof x !== "number" || !Number.isFinite(x)) return "-";
  const abs = Math.abs(x);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
