/** The problems of one `resolveConfig` call, each with its key path, in the order found. */

/** One problem: the key path and what is wrong there. */
export interface Problem {
  path: string;
  text: string;
}

/** A value as a problem line shows it: short, never throwing. */
export function formatValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "function") return "a function";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "symbol" || value === null) return String(value);
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return Array.isArray(value) ? "an array" : "an object";
  }
}

export class Collector {
  readonly problems: Problem[] = [];
  /** Paths whose value was refused (their defaults are used; cross-key rules skip them). */
  readonly bad = new Set<string>();

  /** `path: expected <expected>, got <value>`. */
  expected(path: string, expected: string, got: unknown): void {
    this.other(path, `expected ${expected}, got ${formatValue(got)}`);
  }

  other(path: string, text: string): void {
    this.bad.add(path);
    this.problems.push({ path, text });
  }
}
