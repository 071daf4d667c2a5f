import { Counter, Gauge, Histogram, Registry, type Metric } from "prom-client";
import type { MetricLabels, WssMetrics } from "@loly-rt/core";

/** Outcomes of an event, as counted by `loly_events_total`. */
export type EventOutcome = "ok" | "error" | "refused";

/** Buckets of `loly_handler_duration_seconds`. */
export const HANDLER_BUCKETS: readonly number[] = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/**
 * Per-event tallies, kept as plain numbers on the event hot path (prom-client hashes the
 * label set on every `inc`/`observe`, even through `labels()` children); the registry reads
 * them when scraped as `loly_events_total` and `loly_handler_duration_seconds`.
 */
export class EventTally {
  ok = 0;
  error = 0;
  refused = 0;
  sum = 0;
  count = 0;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly perBucket = new Float64Array(HANDLER_BUCKETS.length + 1);

  constructor(
    readonly namespace: string,
    readonly event: string,
  ) {}

  observe(seconds: number): void {
    let i = 0;
    while (i < HANDLER_BUCKETS.length && seconds > (HANDLER_BUCKETS[i] as number)) i++;
    this.perBucket[i]! += 1;
    this.sum += seconds;
    this.count += 1;
  }

  reset(): void {
    this.ok = this.error = this.refused = this.sum = this.count = 0;
    this.perBucket.fill(0);
  }
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** The registry-facing side of the tallies: two metrics computed on scrape. */
class TallyMetrics {
  readonly tallies: EventTally[] = [];

  constructor(registry: Registry) {
    const tallies = this.tallies;
    registry.registerMetric({
      name: "loly_events_total",
      help: "Events by namespace, event and outcome",
      type: "counter",
      aggregator: "sum",
      get: async () => ({
        name: "loly_events_total",
        help: "Events by namespace, event and outcome",
        type: "counter",
        aggregator: "sum",
        values: tallies.flatMap((t): MetricValue[] => [
          { value: t.ok, labels: { namespace: t.namespace, event: t.event, outcome: "ok" } },
          { value: t.error, labels: { namespace: t.namespace, event: t.event, outcome: "error" } },
          { value: t.refused, labels: { namespace: t.namespace, event: t.event, outcome: "refused" } },
        ]),
      }),
      reset: () => {
        for (const t of tallies) t.reset();
      },
    } as never);
    const name = "loly_handler_duration_seconds";
    registry.registerMetric({
      name,
      help: "Handler duration by namespace and event",
      type: "histogram",
      aggregator: "sum",
      get: async () => ({
        name,
        help: "Handler duration by namespace and event",
        type: "histogram",
        aggregator: "sum",
        values: tallies.flatMap((t): MetricValue[] => {
          const out: MetricValue[] = [];
          let cumulative = 0;
          for (let i = 0; i <= HANDLER_BUCKETS.length; i++) {
            cumulative += t.perBucket[i] as number;
            const le = i < HANDLER_BUCKETS.length ? (HANDLER_BUCKETS[i] as number) : "+Inf";
            out.push({ value: cumulative, labels: { le, namespace: t.namespace, event: t.event }, metricName: `${name}_bucket` });
          }
          out.push({ value: t.sum, labels: { namespace: t.namespace, event: t.event }, metricName: `${name}_sum` });
          out.push({ value: t.count, labels: { namespace: t.namespace, event: t.event }, metricName: `${name}_count` });
          return out;
        }),
      }),
      reset: () => {
        for (const t of tallies) t.reset();
      },
    } as never);
  }
}

/** The built-in metrics of one server, all in its own registry. */
export interface ServerMetrics {
  readonly registry: Registry;
  readonly connections: Gauge<"namespace">;
  readonly connectionsTotal: Counter<"namespace">;
  readonly refusedConnections: Counter<"namespace" | "code">;
  /** A tally (events by outcome, handler durations) for one event of one route. */
  tally(namespace: string, event: string): EventTally;
  readonly errors: Counter<"namespace" | "code">;
  readonly rateLimited: Counter<"namespace" | "limit" | "scope">;
  readonly backendErrors: Counter<"component">;
  /** Connections closed because they held more than `limits.maxBufferedBytes` unsent (a client that stops reading). */
  readonly slowConsumers: Counter<string>;
  /** Refusals not sent: no ack asked for one and the socket was over its error rate (a flood). */
  readonly refusalsDropped: Counter<"namespace">;
  /** Broadcasts to other instances dropped instead of delivered late (a hung or failed Redis), by reason (`publish` or `stale`). */
  readonly broadcastsDropped: Counter<"reason">;
  /** `ctx.metrics`: application metrics in the same registry, prefixed `loly_app_`. */
  readonly app: WssMetrics;
}

const APP_PREFIX = "loly_app_";
const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function createAppMetrics(registry: Registry): WssMetrics {
  const made = new Map<string, Metric>();
  const get = <M extends Metric>(kind: string, name: string, labels: MetricLabels | undefined, make: (n: string, l: string[]) => M): M => {
    const key = `${kind}:${name}`;
    let m = made.get(key) as M | undefined;
    if (!m) {
      const full = APP_PREFIX + name;
      if (!NAME_RE.test(full)) throw new TypeError(`ctx.metrics: "${name}" is not a valid metric name (letters, digits, _ and :)`);
      m = make(full, labels ? Object.keys(labels) : []);
      made.set(key, m);
    }
    return m;
  };
  return {
    increment(name, labels, by = 1) {
      const c = get(
        "counter",
        name,
        labels,
        (n, l) => new Counter({ name: n, help: `Application counter ${name}`, labelNames: l, registers: [registry] }),
      );
      if (labels) c.inc(labels, by);
      else c.inc(by);
    },
    observe(name, value, labels) {
      const h = get(
        "histogram",
        name,
        labels,
        (n, l) => new Histogram({ name: n, help: `Application histogram ${name}`, labelNames: l, registers: [registry] }),
      );
      if (labels) h.observe(labels, value);
      else h.observe(value);
    },
    set(name, value, labels) {
      const g = get(
        "gauge",
        name,
        labels,
        (n, l) => new Gauge({ name: n, help: `Application gauge ${name}`, labelNames: l, registers: [registry] }),
      );
      if (labels) g.set(labels, value);
      else g.set(value);
    },
  };
}

/**
 * Creates the server's metrics in a fresh registry (several servers may share a process).
 * Process metrics are not collected here (they install process-wide monitors); add them with
 * `collectDefaultMetrics({ register: rt.metrics })` when wanted.
 */
export function createServerMetrics(): ServerMetrics {
  const registry = new Registry();
  const registers = [registry];
  const tallies = new TallyMetrics(registry);
  const metrics: ServerMetrics = {
    registry,
    connections: new Gauge({ name: "loly_connections", help: "Open connections by namespace", labelNames: ["namespace"], registers }),
    connectionsTotal: new Counter({
      name: "loly_connections_total",
      help: "Accepted connections by namespace",
      labelNames: ["namespace"],
      registers,
    }),
    refusedConnections: new Counter({
      name: "loly_connections_refused_total",
      help: "Refused connections by namespace and code",
      labelNames: ["namespace", "code"],
      registers,
    }),
    tally(namespace, event) {
      const t = new EventTally(namespace, event);
      tallies.tallies.push(t);
      return t;
    },
    errors: new Counter({
      name: "loly_errors_total",
      help: "Errors sent to clients by namespace and code",
      labelNames: ["namespace", "code"],
      registers,
    }),
    rateLimited: new Counter({
      name: "loly_rate_limited_total",
      help: "Events refused by a rate limit, by namespace, limit (global or event) and scope (socket, ip or user)",
      labelNames: ["namespace", "limit", "scope"],
      registers,
    }),
    backendErrors: new Counter({
      name: "loly_backend_errors_total",
      help: "Errors of Redis, the adapter and other backends by component",
      labelNames: ["component"],
      registers,
    }),
    slowConsumers: new Counter({
      name: "loly_slow_consumers_total",
      help: "Connections closed for holding more than limits.maxBufferedBytes unsent (clients that stop reading)",
      registers,
    }),
    refusalsDropped: new Counter({
      name: "loly_refusals_dropped_total",
      help: "Refusals not sent to a flooding client (no ack asked, over its error rate), by namespace",
      labelNames: ["namespace"],
      registers,
    }),
    broadcastsDropped: new Counter({
      name: "loly_broadcasts_dropped_total",
      help: "Broadcasts to other instances dropped instead of delivered late, by reason: publish (not published: Redis hung past scale.commandTimeoutMs, or failed) or stale (received older than scale.commandTimeoutMs)",
      labelNames: ["reason"],
      registers,
    }),
    app: createAppMetrics(registry),
  };
  return metrics;
}
