import type { LolyLogger } from "@loly-rt/core";
import type { ServerMetrics } from "../metrics.js";
import { errorMessage } from "./bounded.js";

/**
 * Once-per-outage logging of the server's own calls to a backend, by component (`presence`,
 * `connections`, `revalidate`): the first failure of an outage warns, the rest of it is
 * logged at debug, and the first success after it says the component is available again.
 */
export class Outages {
  private readonly failing = new Set<string>();

  constructor(private readonly logger: LolyLogger) {}

  /** A call of `component` failed; `msg` says what the server did about it. */
  degraded(component: string, err: unknown, msg: string, fields: Record<string, unknown> = {}): void {
    const line = { ...fields, err: { message: errorMessage(err) }, component };
    if (this.failing.has(component)) {
      this.logger.debug(line, msg);
      return;
    }
    this.failing.add(component);
    this.logger.warn(line, `${msg} (repeats of this outage are logged at debug)`);
  }

  /** A call of `component` succeeded. */
  recovered(component: string): void {
    if (this.failing.size > 0 && this.failing.delete(component)) this.logger.info({ component }, `${component}: available again`);
  }
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
  let down = false;
  return {
    report: (err, stage) => {
      metrics.backendErrors.labels(component).inc();
      const line = { err: { message: errorMessage(err) }, component, stage };
      if (down) {
        logger.debug(line, `${component}: Redis error`);
        return;
      }
      down = true;
      logger.warn(line, `${component}: Redis unreachable (${errorMessage(err)}); retrying (repeats of this outage are logged at debug)`);
    },
    ok: () => {
      if (!down) return;
      down = false;
      logger.info({ component }, `${component}: Redis is back`);
    },
  };
}
