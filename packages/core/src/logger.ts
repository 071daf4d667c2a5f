/** A log method: pino's call shapes (`log(obj, msg)` or `log(msg)`). */
export interface LogFn {
  (obj: object, msg?: string, ...args: unknown[]): void;
  (msg: string, ...args: unknown[]): void;
}

/**
 * The logger contract: the subset of pino's `Logger` Loly Realtime uses, so a pino
 * instance (or anything shaped like one) can be injected with the `logger` option.
 */
export interface LolyLogger {
  level: string;
  child(bindings: Record<string, unknown>): LolyLogger;
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
}

/** Labels of an application metric. */
export type MetricLabels = Record<string, string | number>;

/**
 * Application metrics a handler records (`ctx.metrics`). Each name becomes a prom-client
 * metric in the server's registry, prefixed `loly_app_`, created on first use with the
 * label names of that first call.
 */
export interface WssMetrics {
  /** Adds `by` (default 1) to a counter. */
  increment(name: string, labels?: MetricLabels, by?: number): void;
  /** Records one observation in a histogram (seconds are the usual unit). */
  observe(name: string, value: number, labels?: MetricLabels): void;
  /** Sets a gauge. */
  set(name: string, value: number, labels?: MetricLabels): void;
}
