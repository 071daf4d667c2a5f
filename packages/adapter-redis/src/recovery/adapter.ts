import type { RedisAdapterOptions } from "@socket.io/redis-adapter";
import type { RedisAdapter } from "@socket.io/redis-adapter";
import { FreshRedisAdapter } from "../fresh-adapter.js";
import type { Freshness } from "../freshness.js";
import type { Parser } from "../stamp.js";
import type { RedisRecoveryLog } from "./log.js";
import { LocalFallback } from "./fallback.js";
import { compareStreamIds, LOGGED_MARK, parseStreamId, splitLogged } from "./offsets.js";
import type { RedisRecoverySessions, StoredSession } from "./sessions.js";

type WithAck = Parameters<RedisAdapter["broadcastWithAck"]>;
type Packet = WithAck[0];
type BroadcastOptions = WithAck[1];
type ApplyCallback = (socket: { id: string }) => void;

/** What the server gives the adapter to turn Socket.IO's sessions into recovery's. */
export interface RecoveryHooks {
  readonly log: RedisRecoveryLog;
  readonly sessions: RedisRecoverySessions;
  /** A dropped socket's state, as recovery keeps it (without its user, with its user id). */
  describe(nsp: string, session: { sid: string; pid: string; rooms: Iterable<unknown>; data: unknown }): StoredSession;
  /** Socket.IO asked to restore `pid` and the session was found: the server claims it after `auth`. */
  restoring(pid: string, session: StoredSession, offset: string): void;
  /** Whether the subscriber is connected and subscribed (what a broadcast published now needs to come back here). */
  subscribed(): boolean;
}

/** The uid a logged broadcast of this instance is decoded with, so that the stock adapter delivers it here too. */
const SELF = "loly:self";

/** Whether a broadcast is kept for recovery: an event without an ack, not volatile, not local. */
function isLogged(packet: { type: number; id?: number }, opts: BroadcastOptions): boolean {
  return packet.type === 2 && packet.id === undefined && opts.flags?.volatile === undefined && !opts.flags?.local;
}

/**
 * The cluster adapter with recovery (SPEC 10). A recoverable broadcast is logged and published
 * in one Redis script (`recovery/log.ts`), so the log's order is the order every instance
 * receives it in, and it reaches this instance's sockets through the subscription too (not at
 * once): every socket of the cluster gets broadcasts in log order, each with its offset (the
 * entry id) as its last argument. Sessions are kept in Redis while sockets live. While a
 * recovered socket catches up (its missed events read from the log), what arrives for it live
 * is held and given after, without what the catch-up already gave.
 */
export class RecoveringRedisAdapter extends FreshRedisAdapter {
  /**
   * Sockets caught up to an offset whose live copy may still be on its way: the log is read on
   * the command connection, broadcasts arrive on the subscriber's, and a broadcast the catch-up
   * already gave can arrive after it ended. Dropped once the subscription is past the offset.
   */
  private readonly fences = new Map<string, [number, number]>();
  /** Sockets being caught up, and what came for them meanwhile. */
  private readonly held = new Map<string, Array<{ offset: [number, number] | null; deliver: () => void }>>();
  /** The offset of the broadcast being delivered (set while the stock adapter hands it to `apply`). */
  private delivering: string | undefined;
  /**
   * Live sockets whose session is kept: socket id -> private session id (rooms, user and data
   * are read from the socket at each write: nothing more is kept per socket).
   */
  private readonly tracked = new Map<string, string>();
  /** Tracked sockets that dropped: their session was left for recovery (`persistSession`). */
  private readonly dropped = new Set<string>();
  private dirty: Set<string> | null = null;
  private readonly fallback: LocalFallback;
  private readonly onLogged: (pattern: Buffer, channel: Buffer, msg: Buffer) => void;
  private readonly subscriber: { off(event: string, fn: (...args: never[]) => void): void };

  constructor(
    nsp: unknown,
    pubClient: unknown,
    subClient: unknown,
    opts: Partial<RedisAdapterOptions>,
    fresh: Freshness,
    private readonly recovery: RecoveryHooks,
  ) {
    super(nsp, pubClient, subClient, opts, fresh);
    this.fallback = new LocalFallback(fresh.staleAfterMs, () => fresh.dropped("publish"));
    const self = this as unknown as { parser: Parser; uid: string; nsp: { name: string } };
    const inner = self.parser;
    const name = self.nsp.name;
    recovery.log.parser ??= this.wireParser;
    self.parser = {
      encode: (msg) => inner.encode(msg),
      decode: (msg) => {
        const logged = splitLogged(msg);
        if (logged === null) {
          this.delivering = undefined;
          return inner.decode(msg);
        }
        const decoded = inner.decode(logged.payload);
        const packet = Array.isArray(decoded) ? (decoded[1] as { data?: unknown[] } | undefined) : undefined;
        if (!Array.isArray(decoded) || !Array.isArray(packet?.data)) {
          this.delivering = undefined;
          return decoded;
        }
        packet.data.push(logged.id);
        if (decoded[0] === self.uid) decoded[0] = SELF;
        this.delivering = logged.id;
        return decoded;
      },
    };
    // Every logged broadcast of the namespace moves its position, those for rooms this instance
    // does not host too (the stock adapter decodes only what it delivers): a new socket resumes
    // from the last one, not from before broadcasts it was never meant to get.
    const sub = subClient as { on(event: string, fn: (...args: never[]) => void): void };
    const prefix = Buffer.from((this as unknown as { channel: string }).channel);
    this.onLogged = (_pattern: Buffer, channel: Buffer, msg: Buffer) => {
      if (msg[0] !== LOGGED_MARK || !channel.subarray(0, prefix.length).equals(prefix)) return;
      const end = msg.indexOf(0x0a);
      if (end <= 0) return;
      const id = msg.toString("latin1", 1, end);
      recovery.log.received(name, id);
      if (this.fences.size > 0) this.pastFences(id);
      // The stock adapter (its listener runs first) has delivered it: what `apply` does next
      // (socketsJoin, disconnectSockets...) is not this broadcast's delivery.
      this.delivering = undefined;
    };
    sub.on("pmessageBuffer", this.onLogged);
    this.subscriber = sub as never;
    void recovery.log.learn(name).catch(() => undefined);
    // `apply` (TypeScript-private in socket.io-adapter) is what every local delivery goes
    // through: while a socket catches up, what comes for it is held, with its offset.
    const target = this as unknown as { apply(opts: BroadcastOptions, callback: ApplyCallback): void };
    const apply = target.apply.bind(this);
    target.apply = (opts, callback) => {
      if (this.held.size === 0 && this.fences.size === 0) return apply(opts, callback);
      const offset = this.delivering === undefined ? null : parseStreamId(this.delivering);
      apply(opts, (socket) => {
        const queue = this.held.get(socket.id);
        if (queue !== undefined) {
          queue.push({ offset, deliver: () => callback(socket) });
          return;
        }
        const fence = this.fences.get(socket.id);
        if (fence !== undefined && offset !== null && compareStreamIds(offset, fence) <= 0) return;
        callback(socket);
      });
    };
  }

  private get nspName(): string {
    return (this as unknown as { nsp: { name: string } }).nsp.name;
  }

  override broadcast(packet: Packet, opts: BroadcastOptions): void {
    this.delivering = undefined;
    // To one socket connected here: no other instance has it, nothing to publish.
    if (!opts.flags?.local && this.isDirect(opts)) return super.broadcast(packet, { ...opts, flags: { ...opts.flags, local: true } });
    if (!isLogged(packet as never, opts) || !this.fresh.gate.open || !this.recovery.subscribed()) return super.broadcast(packet, opts);
    const self = this as unknown as { parser: Parser; uid: string; channel: string };
    const nsp = this.nspName;
    (packet as { nsp?: string }).nsp = nsp;
    const rawOpts = { rooms: [...opts.rooms], except: [...new Set(opts.except)], flags: opts.flags };
    const payload = self.parser.encode([self.uid, packet, rawOpts]) as Buffer;
    const channel = opts.rooms.size === 1 ? `${self.channel}${String(opts.rooms.keys().next().value)}#` : self.channel;
    const publishes = this.fresh.publishes;
    publishes.sent();
    // Not logged (maybe not published) in time: this instance's sockets get it all the same.
    const pending = this.fallback.add(() => super.broadcast(packet, { ...opts, flags: { ...opts.flags, local: true } }));
    this.recovery.log.publish(nsp, channel, payload).then(
      () => {
        publishes.answered();
        this.fallback.answered(pending);
      },
      (err: unknown) => {
        publishes.failed(err);
        this.fallback.failed(pending);
      },
    );
  }

  override close(): ReturnType<FreshRedisAdapter["close"]> {
    this.subscriber.off("pmessageBuffer", this.onLogged as never);
    this.fallback.stop();
    return super.close();
  }

  /**
   * An emit to one socket connected here (`socket.emit`, which Socket.IO sends through the
   * adapter when recovery is on): delivered at once, neither logged nor published (no other
   * instance has the socket). A socket's own emits happen while it is connected; what it
   * missed while away came through rooms.
   */
  private isDirect(opts: BroadcastOptions): boolean {
    if (opts.rooms.size !== 1 || (opts.except !== undefined && opts.except.size > 0)) return false;
    const room = opts.rooms.values().next().value as string;
    return (this as unknown as { nsp: { sockets: Map<string, unknown> } }).nsp.sockets.has(room);
  }

  /** Holds what arrives live for a socket that is being caught up. */
  hold(sid: string): void {
    this.held.set(sid, []);
  }

  /**
   * Ends a catch-up: what arrived meanwhile is given, in order, without what is at or before
   * `caughtUpTo`; what is at or before it and arrives later is not given either.
   */
  release(sid: string, caughtUpTo: string): void {
    const queue = this.held.get(sid) ?? [];
    this.held.delete(sid);
    const last = parseStreamId(caughtUpTo);
    if (last !== null) this.fences.set(sid, last);
    for (const entry of queue) {
      if (entry.offset !== null && last !== null && compareStreamIds(entry.offset, last) <= 0) continue;
      entry.deliver();
    }
  }

  /** The subscription reached `id`: sockets fenced at or before it can get everything again. */
  private pastFences(id: string): void {
    const at = parseStreamId(id);
    if (at === null) return;
    for (const [sid, fence] of this.fences) if (compareStreamIds(at, fence) >= 0) this.fences.delete(sid);
  }

  /**
   * Keeps this socket's session in Redis while it lives (and after, if it drops): its rooms,
   * and its data and user as `describe` reads them from the socket, at each write.
   */
  track(sid: string, pid: string): void {
    this.tracked.set(sid, pid);
    this.markDirty(sid);
  }

  override addAll(id: string, rooms: Set<string>): void {
    super.addAll(id, rooms);
    if (this.tracked.has(id)) this.markDirty(id);
  }

  override del(id: string, room: string): void {
    super.del(id, room);
    if (this.tracked.has(id)) this.markDirty(id);
  }

  override delAll(id: string): void {
    super.delAll(id);
    this.held.delete(id);
    this.fences.delete(id);
    const pid = this.tracked.get(id);
    if (pid === undefined) return;
    this.tracked.delete(id);
    this.dirty?.delete(id);
    if (!this.dropped.delete(id)) this.recovery.sessions.forget(pid);
  }

  override persistSession(session: { sid: string; pid: string; rooms: Iterable<unknown>; data: unknown }): void {
    if (this.tracked.has(session.sid)) this.dropped.add(session.sid);
    this.recovery.sessions.dropped(this.recovery.describe(this.nspName, session));
  }

  override async restoreSession(pid: string, offset: string): Promise<never> {
    const nsp = this.nspName;
    const session = await this.recovery.sessions.take(pid);
    if (session === null || session.nsp !== nsp || !(await this.recovery.log.reaches(nsp, offset))) return null as never;
    this.recovery.restoring(pid, session, offset);
    // Socket.IO gives the socket its old id; rooms, data and missed events come after auth.
    return { sid: session.sid, pid: session.pid, rooms: [], data: {}, missedPackets: [] } as never;
  }

  /** Writes the sessions of sockets whose rooms changed, once per tick. */
  private markDirty(sid: string): void {
    if (this.dirty === null) {
      this.dirty = new Set();
      setImmediate(() => {
        const dirty = this.dirty ?? new Set<string>();
        this.dirty = null;
        const sids = (this as unknown as { sids: Map<string, Set<string>> }).sids;
        const sockets = (this.nsp as { sockets: Map<string, { data?: unknown }> }).sockets;
        for (const id of dirty) {
          const pid = this.tracked.get(id);
          const socket = sockets.get(id);
          if (pid === undefined || socket === undefined || this.dropped.has(id)) continue;
          this.recovery.sessions.keep(this.recovery.describe(this.nspName, { sid: id, pid, rooms: sids.get(id) ?? [], data: socket.data }));
        }
      });
    }
    this.dirty.add(sid);
  }
}
