import { Counter, Gauge, Histogram, Registry, type Metric } from "prom-client";
import type { MetricLabels, WssMetrics } from "@loly-rt/core";

/** Outcomes of an event, as counted by `loly_events_total`. */
export type EventOutcome = "ok" | "error" | "refused";

/** The built-in metrics of one server, all in its own registry. */
export interface ServerMetrics {
  readonly registry: Registry;
  readonly connections: Gauge<"namespace">;
  readonly connectionsTotal: Counter<"namespace">;
  readonly refusedConnections: Counter<"namespace" | "code">;
  readonly events: Counter<"namespace" | "event" | "outcome">;
  readonly handlerSeconds: Histogram<"namespace" | "event">;
  readonly errors: Counter<"namespace" | "code">;
  readonly rateLimited: Counter<"namespace" | "limit" | "scope">;
  readonly backendErrors: Counter<"component">;
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
      const c = get("counter", name, labels, (n, l) => new Counter({ name: n, help: `Application counter ${name}`, labelNames: l, registers: [registry] }));
      if (labels) c.inc(labels, by);
      else c.inc(by);
    },
    observe(name, value, labels) {
      const h = get("histogram", name, labels, (n, l) => new Histogram({ name: n, help: `Application histogram ${name}`, labelNames: l, registers: [registry] }));
      if (labels) h.observe(labels, value);
      else h.observe(value);
    },
    set(name, value, labels) {
      const g = get("gauge", name, labels, (n, l) => new Gauge({ name: n, help: `Application gauge ${name}`, labelNames: l, registers: [registry] }));
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
  const metrics: ServerMetrics = {
    registry,
    connections: new Gauge({ name: "loly_connections", help: "Open connections by namespace", labelNames: ["namespace"], registers }),
    connectionsTotal: new Counter({ name: "loly_connections_total", help: "Accepted connections by namespace", labelNames: ["namespace"], registers }),
    refusedConnections: new Counter({
      name: "loly_connections_refused_total",
      help: "Refused connections by namespace and code",
      labelNames: ["namespace", "code"],
      registers,
    }),
    events: new Counter({ name: "loly_events_total", help: "Events by namespace, event and outcome", labelNames: ["namespace", "event", "outcome"], registers }),
    handlerSeconds: new Histogram({
      name: "loly_handler_duration_seconds",
      help: "Handler duration by namespace and event",
      labelNames: ["namespace", "event"],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    errors: new Counter({ name: "loly_errors_total", help: "Errors sent to clients by namespace and code", labelNames: ["namespace", "code"], registers }),
    rateLimited: new Counter({
      name: "loly_rate_limited_total",
      help: "Events refused by a rate limit, by namespace, limit (global or event) and scope (socket, ip or user)",
      labelNames: ["namespace", "limit", "scope"],
      registers,
    }),
    backendErrors: new Counter({ name: "loly_backend_errors_total", help: "Errors of Redis, the adapter and other backends by component", labelNames: ["component"], registers }),
    app: createAppMetrics(registry),
  };
  return metrics;
}
