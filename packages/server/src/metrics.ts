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
    this.register(registry, "loly_events_total", "Events by namespace, event and outcome", "counter", (t) => [
      { value: t.ok, labels: { namespace: t.namespace, event: t.event, outcome: "ok" } },
      { value: t.error, labels: { namespace: t.namespace, event: t.event, outcome: "error" } },
      { value: t.refused, labels: { namespace: t.namespace, event: t.event, outcome: "refused" } },
    ]);
    const name = "loly_handler_duration_seconds";
    this.register(registry, name, "Handler duration by namespace and event", "histogram", (t) => {
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
    });
  }

  /** Registers a metric whose values `valuesOf` reads from every tally on scrape; its reset zeroes all tallies. */
  private register(
    registry: Registry,
    name: string,
    help: string,
    type: "counter" | "histogram",
    valuesOf: (tally: EventTally) => MetricValue[],
  ): void {
    const tallies = this.tallies;
    registry.registerMetric({
      name,
      help,
      type,
      aggregator: "sum",
      get: async () => ({ name, help, type, aggregator: "sum", values: tallies.flatMap(valuesOf) }),
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
  /** Pub/sub messages the Redis adapter's subscriber received (cluster mode), by `pubsub` mode: what sharded fan-out lowers. */
  readonly adapterMessages: Counter<"pubsub">;
  /** Where {@link adapterMessages} reads its count from (the adapter handle), set once the adapter exists. */
  readAdapterMessages(source: () => { pubsub: string; count: number }): void;
  /** `ctx.metrics`: application metrics in the same registry, prefixed `loly_app_`. */
  readonly app: WssMetrics;
}

const APP_PREFIX = "loly_app_";
const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** A prom-client metric class, as {@link appMetrics} constructs it. */
type AppMetricClass<M extends Metric> = new (config: { name: string; help: string; labelNames: string[]; registers: Registry[] }) => M;

/**
 * Records application metrics of one kind: the metric named `loly_app_<name>` is made on first
 * use, with the label names of that first call, and reused after; `record` applies one value to
 * it, with the labels when there are some.
 */
function appMetrics<M extends Metric>(
  registry: Registry,
  Kind: AppMetricClass<M>,
  kind: string,
  record: (metric: M, value: number, labels: MetricLabels | undefined) => void,
): (name: string, value: number, labels?: MetricLabels) => void {
  const made = new Map<string, M>();
  return (name, value, labels) => {
    let m = made.get(name);
    if (!m) {
      const full = APP_PREFIX + name;
      if (!NAME_RE.test(full)) throw new TypeError(`ctx.metrics: "${name}" is not a valid metric name (letters, digits, _ and :)`);
      m = new Kind({
        name: full,
        help: `Application ${kind} ${name}`,
        labelNames: labels ? Object.keys(labels) : [],
        registers: [registry],
      });
      made.set(name, m);
    }
    record(m, value, labels);
  };
}

function createAppMetrics(registry: Registry): WssMetrics {
  const count = appMetrics(registry, Counter, "counter", (c, by, labels) => (labels ? c.inc(labels, by) : c.inc(by)));
  return {
    increment: (name, labels, by = 1) => count(name, by, labels),
    observe: appMetrics(registry, Histogram, "histogram", (h, value, labels) => (labels ? h.observe(labels, value) : h.observe(value))),
    set: appMetrics(registry, Gauge, "gauge", (g, value, labels) => (labels ? g.set(labels, value) : g.set(value))),
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
  let adapterSource: (() => { pubsub: string; count: number }) | undefined;
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
    adapterMessages: new Counter({
      name: "loly_adapter_messages_received_total",
      help: "Pub/sub messages of the adapter's channels this instance's subscriber received, by pubsub mode (sharded: only the rooms hosted here)",
      labelNames: ["pubsub"],
      registers,
      collect() {
        const read = adapterSource?.();
        if (read === undefined) return;
        this.reset();
        this.inc({ pubsub: read.pubsub }, read.count);
      },
    }),
    readAdapterMessages: (source) => {
      adapterSource = source;
    },
    app: createAppMetrics(registry),
  };
  return metrics;
}
