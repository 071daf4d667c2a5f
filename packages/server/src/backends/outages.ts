import type { LolyLogger } from "@loly-rt/core";
import { createOutageReporter, type OutageReporter } from "@loly-rt/core/redis";
import type { ServerMetrics } from "../metrics.js";
import { errorMessage } from "./bounded.js";

/**
 * Once-per-outage logging of the server's own calls to a backend, by component (`presence`,
 * `connections`, `revalidate`, `auth`): the first failure of an outage warns, the rest of it
 * is logged at debug, and the first success after it says the component is available again.
 */
export class Outages {
  private readonly reporters = new Map<string, OutageReporter<Line>>();

  constructor(private readonly logger: LolyLogger) {}

  /** A call of `component` failed; `msg` says what the server did about it. */
  degraded(component: string, err: unknown, msg: string, fields: Record<string, unknown> = {}): void {
    let reporter = this.reporters.get(component);
    if (reporter === undefined) {
      reporter = createOutageReporter<Line>({
        onFirst: (_err, line) => this.logger.warn(line.fields, `${line.msg} (repeats of this outage are logged at debug)`),
        onRepeat: (_err, line) => this.logger.debug(line.fields, line.msg),
        onRecover: () => this.logger.info({ component }, `${component}: available again`),
      });
      this.reporters.set(component, reporter);
    }
    reporter.fail(err, { msg, fields: { ...fields, err: { message: errorMessage(err) }, component } });
  }

  /** A call of `component` succeeded. */
  recovered(component: string): void {
    if (this.reporters.size > 0) this.reporters.get(component)?.ok();
  }
}

/** A log line of {@link Outages}. */
interface Line {
  msg: string;
  fields: Record<string, unknown>;
}

/** The reporter a Redis-backed part gets for its background errors: counted, warned once per outage. */
export interface BackgroundErrors {
  report(err: unknown, stage?: string): void;
  /** Redis answered again: ends the outage. */
  ok(): void;
}

/**
 * Background errors of a Redis-backed part (heartbeats, reconnection attempts, failed
 * publishes come once per attempt or per broadcast during an outage): every one counted in
 * `loly_backend_errors_total`, one warning per outage, the rest at debug, one line when Redis
 * is back.
 */
export function backgroundErrors(component: string, logger: LolyLogger, metrics: ServerMetrics): BackgroundErrors {
  const line = (err: unknown, stage: string | undefined) => ({ err: { message: errorMessage(err) }, component, stage });
  const outage = createOutageReporter<string | undefined>({
    onFirst: (err, stage) =>
      logger.warn(
        line(err, stage),
        `${component}: Redis unreachable (${errorMessage(err)}); retrying (repeats of this outage are logged at debug)`,
      ),
    onRepeat: (err, stage) => logger.debug(line(err, stage), `${component}: Redis error`),
    onRecover: () => logger.info({ component }, `${component}: Redis is back`),
  });
  return {
    report: (err, stage) => {
      metrics.backendErrors.labels(component).inc();
      outage.fail(err, stage);
    },
    ok: () => outage.ok(),
  };
}
