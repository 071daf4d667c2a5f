import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";

/** A new instance id: `<hostname>:<pid>:<6 hex>`, readable in logs, unique across hosts, processes and restarts. */
export function newInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
}

/** A newcomer asks again after this long, in case the first answers were published before it was subscribed. */
const SECOND_ASK_MS = 1000;

/** What {@link Membership} sends: a hello (`ask`: everyone answers with theirs) or a bye. */
export interface MembershipTransport {
  hello(ask: boolean): void;
  bye(): void;
}

/**
 * Which other instances exist, as heard over the adapter: every instance says hello every
 * `ttlMs / 3` (and asks for everyone's hello when it starts), says bye when it closes, and is
 * forgotten after `ttlMs` of silence, the same rule presence applies to its entries (so a
 * frozen instance is named as missing for `ttlMs`, then treated as gone, as its users are).
 * Any message from an instance counts as hearing it.
 *
 * Why not the adapter's `serverCount()`: it counts the subscribers of the request channel, so a
 * frozen process (its Redis connection stays open) is counted forever, and it names nobody. Why
 * not presence's instance set in Redis: its ids are the presence backend's own, unknown to the
 * instance answering, and a custom adapter may not use Redis at all. Heartbeats through the
 * adapter cost `n` small messages every `ttlMs / 3` for `n` instances and prove what a call
 * needs: the instance hears the cluster's messages.
 */
export class Membership {
  private readonly heard = new Map<string, number>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(
    readonly id: string,
    private readonly transport: MembershipTransport,
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Announces this instance (asking for everyone's hello) and starts the heartbeat. */
  start(): void {
    this.transport.hello(true);
    const again = setTimeout(() => this.closed || this.transport.hello(true), Math.min(SECOND_ASK_MS, this.ttlMs / 3));
    const beat = setInterval(() => this.transport.hello(false), Math.max(10, Math.floor(this.ttlMs / 3)));
    again.unref();
    beat.unref();
    this.timers.push(again, beat);
  }

  /** Instance `id` sent something: it is alive now. */
  saw(id: string): void {
    if (id !== this.id && !this.closed) this.heard.set(id, this.now());
  }

  /** Instance `id` said bye. */
  left(id: string): void {
    this.heard.delete(id);
  }

  /** The other instances heard within `ttlMs`, sorted (the silent ones are forgotten). */
  peers(): string[] {
    const oldest = this.now() - this.ttlMs;
    const alive: string[] = [];
    for (const [id, at] of this.heard) {
      if (at >= oldest) alive.push(id);
      else this.heard.delete(id);
    }
    return alive.sort();
  }

  /** Says bye and stops the heartbeat. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.heard.clear();
    this.transport.bye();
  }
}
