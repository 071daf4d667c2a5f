import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";

/** What recovery keeps of a socket: enough to give it back its id, rooms and data, anywhere in the cluster. */
export interface StoredSession {
  /** The socket id, kept on recovery. */
  readonly sid: string;
  /** The private session id the client sends back (`auth.pid`). */
  readonly pid: string;
  readonly nsp: string;
  /** Every room of the socket (its own id and `user:<id>` included). */
  readonly rooms: readonly string[];
  /** The user id at the time (a recovery for another user is not one). */
  readonly userId: string | null;
  /** `socket.data` without `user` (the auth hook sets it again). */
  readonly data: Record<string, unknown>;
}

/**
 * The cluster's recovery sessions (SPEC 10), kept in Redis while the socket lives, not only when
 * it drops, so that a client can recover on any instance even after its instance was killed.
 * A private session id is `<instance>.<random>`, named by the instance that first admitted the
 * socket (a recovered socket keeps its id: the client tells a recovery by it). The live sessions
 * of one such instance name are one hash (`<root>live:<name>`), renewed by every instance that
 * holds one of them and left to expire a window after the last stops; a session whose socket
 * dropped is a key of its own (`<root>s:{<admitter>}<pid>`) for `windowMs`; both carry the admitter
 * as their hash tag (one Redis Cluster slot per admitting instance). So the session of any id is
 * found from the id alone, in one round trip.
 */
export class RedisRecoverySessions {
  private readonly timer: NodeJS.Timeout;
  /** The hashes this instance has live sessions in, with how many. */
  private readonly groups = new Map<string, number>();
  /** The hash of each tracked session. */
  private readonly groupOf = new Map<string, string>();

  constructor(
    private readonly redis: Redis,
    private readonly root: string,
    readonly instance: string,
    private readonly windowMs: number,
    private readonly report: (err: unknown) => void,
  ) {
    // A hash outlives its last holder by a window or more: the sockets it held can recover elsewhere.
    this.timer = setInterval(() => this.renew(), Math.max(1000, Math.floor(windowMs / 4)));
    this.timer.unref();
  }

  /** A private session id for a socket admitted here. */
  newPid(): string {
    return `${this.instance}.${randomBytes(12).toString("base64url")}`;
  }

  /**
   * The hash tag of a session's keys: its admitter, so that its live hash and its dropped key
   * share a Redis Cluster slot (sessions spread over the slots by admitting instance).
   */
  private tagOf(pid: string): string {
    const dot = pid.indexOf(".");
    return `{${dot > 0 ? pid.slice(0, dot) : "_"}}`;
  }

  /** The hash of the live session `pid`. */
  private liveKey(pid: string): string {
    return `${this.root}live:${this.tagOf(pid)}`;
  }

  /** The key of the dropped session `pid`. */
  private droppedKey(pid: string): string {
    return `${this.root}s:${this.tagOf(pid)}${pid}`;
  }

  private renew(): void {
    for (const key of this.groups.keys()) this.redis.pexpire(key, this.windowMs * 2).catch(this.report);
  }

  private untrack(pid: string): string {
    const key = this.groupOf.get(pid) ?? this.liveKey(pid);
    if (this.groupOf.delete(pid)) {
      const n = (this.groups.get(key) ?? 1) - 1;
      if (n <= 0) this.groups.delete(key);
      else this.groups.set(key, n);
    }
    return key;
  }

  /** A socket is (still) connected here with this state (called on connect and when its rooms change). */
  keep(session: StoredSession): void {
    const key = this.liveKey(session.pid);
    if (!this.groupOf.has(session.pid)) {
      this.groupOf.set(session.pid, key);
      this.groups.set(key, (this.groups.get(key) ?? 0) + 1);
    }
    this.redis
      .multi()
      .hset(key, session.pid, JSON.stringify(session))
      .pexpire(key, this.windowMs * 2)
      .exec()
      .catch(this.report);
  }

  /** A socket left for good (not recoverable): its session goes. */
  forget(pid: string): void {
    this.redis.hdel(this.untrack(pid), pid).catch(this.report);
  }

  /** A socket dropped in a recoverable way: its session waits `windowMs` to be taken, by any instance. */
  dropped(session: StoredSession): void {
    this.redis
      .multi()
      .set(this.droppedKey(session.pid), JSON.stringify(session), "PX", this.windowMs)
      .hdel(this.untrack(session.pid), session.pid)
      .exec()
      .catch(this.report);
  }

  /** The session of `pid` (dropped, or live on an instance that is gone), taken once; `null` when none. */
  async take(pid: string): Promise<StoredSession | null> {
    const dropped = this.droppedKey(pid);
    const live = this.liveKey(pid);
    const replies = (await this.redis.multi().get(dropped).hget(live, pid).del(dropped).hdel(live, pid).exec()) as Array<
      [Error | null, unknown]
    > | null;
    const raw = replies?.[0]?.[1] ?? replies?.[1]?.[1];
    if (typeof raw !== "string") return null;
    try {
      return JSON.parse(raw) as StoredSession;
    } catch {
      return null;
    }
  }

  /** Stops renewing this instance's hash (its sessions were dropped or forgotten by the drain). */
  close(): void {
    clearInterval(this.timer);
  }
}
