import type { Redis } from "ioredis";
import { decode, encode } from "notepack.io";
import { Adapter, ClusterAdapter, type ClusterMessage, type ClusterResponse, MessageType } from "socket.io-adapter";
import type { Freshness } from "./freshness.js";

type BroadcastOptions = Parameters<Adapter["broadcast"]>[1];
type Packet = Parameters<Adapter["broadcast"]>[0];
type AckArgs = Parameters<Adapter["broadcastWithAck"]>;

/** A message as it travels: the cluster adapter's, dated on Redis's clock when it is a broadcast. */
type Dated = (ClusterMessage | ClusterResponse) & { sentAt?: number };

/** What the adapter hands a channel's messages to. */
type Handler = (message: Buffer) => void;

/**
 * The sharded channels one subscriber client listens on, and who listens: one `smessageBuffer`
 * listener per client, whatever the number of namespaces and rooms. Counts what arrives.
 */
export class ShardedChannels {
  private readonly handlers = new Map<string, Handler>();
  /** Subscriptions sent and not confirmed yet, by channel. */
  private readonly pending = new Map<string, Promise<void>>();
  /** Messages that arrived on a channel of this client. */
  received = 0;
  private readonly onMessage = (channel: Buffer, message: Buffer): void => {
    const handler = this.handlers.get(channel.toString());
    if (handler === undefined) return;
    this.received++;
    try {
      handler(message);
    } catch (err) {
      // A malformed message (another publisher on our channels) must not throw into ioredis.
      this.report(err);
    }
  };

  /** Whether the client was ready once (subscriptions go out at once from then on). */
  private started: boolean;
  /** Channels listened on before the first `ready`. */
  private readonly unsent = new Set<string>();
  private readonly onReady = (): void => {
    if (this.started) return;
    this.started = true;
    const channels = [...this.unsent];
    this.unsent.clear();
    for (const channel of channels) {
      const handler = this.handlers.get(channel);
      if (handler !== undefined) this.subscribe(channel, handler);
    }
  };

  constructor(
    private readonly sub: Redis,
    private readonly report: (err: unknown) => void,
  ) {
    this.started = sub.status === "ready";
    sub.on("smessageBuffer", this.onMessage);
    if (!this.started) sub.once("ready", this.onReady);
  }

  /**
   * Listens on `channel`; resolves once Redis confirmed the subscription (never rejects:
   * failures go to `report`). Before the client's first `ready` the subscription waits for it
   * (ioredis would send it ahead of its ready check, which then fails in subscriber mode);
   * after, ioredis subscribes again by itself on each reconnection.
   */
  subscribe(channel: string, handler: Handler): Promise<void> {
    this.handlers.set(channel, handler);
    if (!this.started) {
      this.unsent.add(channel);
      return Promise.resolve();
    }
    const done = this.sub.ssubscribe(channel).then(
      () => undefined,
      (err: unknown) => this.report(err),
    );
    this.pending.set(channel, done);
    void done.then(() => {
      if (this.pending.get(channel) === done) this.pending.delete(channel);
    });
    return done;
  }

  /** Stops listening on `channel`. */
  unsubscribe(channel: string): void {
    this.handlers.delete(channel);
    this.pending.delete(channel);
    if (this.unsent.delete(channel)) return;
    this.sub.sunsubscribe(channel).catch(this.report);
  }

  /**
   * The confirmation of `channel`'s subscription while it is on its way to a connected Redis
   * (none while the client is not ready: nothing would confirm it before Redis is back).
   */
  confirming(channel: string): Promise<void> | undefined {
    return this.sub.status === "ready" ? this.pending.get(channel) : undefined;
  }

  /** Every channel listened on (what a re-subscription after a failover sends again). */
  channels(): string[] {
    return [...this.handlers.keys()];
  }

  stop(): void {
    this.sub.off("smessageBuffer", this.onMessage);
    this.sub.off("ready", this.onReady);
  }
}

/** What the adapter reads of a Socket.IO namespace. */
interface Namespace {
  readonly name: string;
}

/** Options of {@link ShardedRedisAdapter}. */
export interface ShardedAdapterOptions {
  /** Channel prefix (the cluster's). */
  key: string;
  /** How long `fetchSockets` waits for answers (unless the call sets its own timeout). */
  requestsTimeout: number;
}

/**
 * The cluster adapter over Redis sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7), by room
 * interest: an instance subscribes to the channel of each public room it has a member of
 * (`<key>#<nsp>#<room>#`), plus its namespace's channel (broadcasts to several rooms, to
 * everyone, socket joins and leaves, cluster requests) and its own response channel. A
 * broadcast to one room is published on that room's channel only, so it reaches the instances
 * that host the room and no other. On Redis Cluster each channel lives on the shard of its
 * slot: rooms spread over the shards.
 *
 * Like the classic adapter of this package it never delivers late: its local sockets get a
 * broadcast at once (never after Redis answered), while Redis hangs a broadcast reaches this
 * instance's sockets only and is counted, and one that arrives older than `staleAfterMs` (on
 * Redis's clock) is dropped and counted. Joining a room resolves once its channel's
 * subscription is confirmed, so a broadcast sent after `await socket.join(room)` is received.
 */
export class ShardedRedisAdapter extends ClusterAdapter {
  /** The namespace's channel. */
  readonly channel: string;
  /** This instance's response channel. */
  readonly responseChannel: string;
  private readonly onNamespaceMessage: Handler;
  declare readonly rooms: Map<string, Set<string>>;
  declare readonly sids: Map<string, Set<string>>;

  constructor(
    nsp: unknown,
    private readonly pubClient: Redis,
    private readonly channels: ShardedChannels,
    private readonly options: ShardedAdapterOptions,
    private readonly fresh: Freshness,
  ) {
    super(nsp);
    const name = (nsp as Namespace).name;
    this.channel = `${options.key}#${name}#`;
    this.responseChannel = `${this.channel}${this.uid}#`;
    this.onNamespaceMessage = (raw) => this.receive(raw, false);
    channels.subscribe(this.channel, this.onNamespaceMessage);
    channels.subscribe(this.responseChannel, (raw) => this.receive(raw, true));
    // A room's channel is listened on while the room has a member here.
    this.on("create-room", (room: string) => {
      if (this.isPublic(room)) channels.subscribe(this.roomChannel(room), this.onNamespaceMessage);
    });
    this.on("delete-room", (room: string) => {
      if (this.isPublic(room)) channels.unsubscribe(this.roomChannel(room));
    });
  }

  /** `fetchSockets` waits `requestsTimeout` for the other instances unless the call gives its own timeout. */
  override fetchSockets(opts: BroadcastOptions): Promise<unknown[]> {
    const withTimeout =
      opts.flags?.timeout === undefined ? { ...opts, flags: { ...opts.flags, timeout: this.options.requestsTimeout } } : opts;
    return super.fetchSockets(withTimeout);
  }

  /** Rooms other than a socket's own (its id). */
  private isPublic(room: string): boolean {
    return !this.sids.has(room);
  }

  private roomChannel(room: string): string {
    return `${this.channel}${room}#`;
  }

  /**
   * Adds a socket to rooms; when a room is new here, resolves once its channel listens (a
   * broadcast published after the join reaches the socket), or after `staleAfterMs` when Redis
   * does not answer. Synchronous otherwise.
   */
  override addAll(id: string, rooms: Set<string>): Promise<void> | void {
    super.addAll(id, rooms);
    let waits: Promise<void>[] | undefined;
    for (const room of rooms) {
      const confirming = this.channels.confirming(this.roomChannel(room));
      if (confirming !== undefined) (waits ??= []).push(confirming);
    }
    if (waits === undefined) return;
    // A Redis that hangs does not hold the join for longer than a publish may be late.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.fresh.staleAfterMs);
      timer.unref();
    });
    return Promise.race([Promise.all(waits).then(() => undefined), late]).finally(() => clearTimeout(timer));
  }

  /**
   * A broadcast: published (on its room's channel when it has one room, or the namespace's),
   * and delivered to this instance's sockets at once, not once Redis answered.
   */
  override broadcast(packet: Packet, opts: BroadcastOptions): Promise<void> {
    if (!opts.flags?.local) {
      if (this.fresh.gate.open) {
        const message = { type: MessageType.BROADCAST, data: { packet, opts: encodeOptions(opts) } } as const;
        this.publish(message as never);
      } else this.fresh.dropped("publish");
    }
    Adapter.prototype.broadcast.call(this, packet, opts);
    return Promise.resolve();
  }

  override broadcastWithAck(packet: AckArgs[0], opts: AckArgs[1], clientCount: AckArgs[2], ack: AckArgs[3]): void {
    if (this.fresh.gate.open || opts.flags?.local) super.broadcastWithAck(packet, opts, clientCount, ack);
    else {
      this.fresh.dropped("publish");
      Adapter.prototype.broadcastWithAck.call(this, packet, opts, clientCount, ack);
    }
  }

  protected override doPublish(message: ClusterMessage): Promise<string> {
    const channel = this.publishChannel(message);
    return this.pubClient.spublish(channel, this.encode(message)).then(() => "");
  }

  protected override doPublishResponse(requesterUid: string, response: ClusterResponse): Promise<void> {
    return this.pubClient.spublish(`${this.channel}${requesterUid}#`, this.encode(response)).then(() => undefined);
  }

  /**
   * A broadcast without acks to one room goes on that room's channel, unless the room looks
   * like a socket id (a socket's own room has no channel: its instance is not known here).
   * A broadcast with acks goes on the namespace's channel: it counts on every instance's answer.
   */
  private publishChannel(message: ClusterMessage): string {
    if (message.type !== MessageType.BROADCAST) return this.channel;
    const data = message.data as { requestId?: string; opts: { rooms: string[] } };
    if (data.requestId !== undefined || data.opts.rooms.length !== 1) return this.channel;
    const room = data.opts.rooms[0] as string;
    return looksLikeSocketId(room) ? this.channel : this.roomChannel(room);
  }

  private encode(message: Dated): Buffer {
    if (message.type === MessageType.BROADCAST) {
      const now = this.fresh.clock.now();
      if (now !== undefined) message.sentAt = now;
    }
    return encode(message);
  }

  private receive(raw: Buffer, response: boolean): void {
    let message: Dated;
    try {
      message = decode(raw) as Dated;
    } catch {
      return;
    }
    if (typeof message !== "object" || message === null) return;
    if (response) return this.onResponse(message as ClusterResponse);
    if (message.type === MessageType.BROADCAST && typeof message.sentAt === "number" && message.uid !== this.uid) {
      const now = this.fresh.clock.now();
      if (now !== undefined && now - message.sentAt > this.fresh.staleAfterMs) {
        this.fresh.dropped("stale");
        return;
      }
    }
    this.onMessage(message as ClusterMessage);
  }

  /** Instances listening on the namespace's channel (every shard asked on Redis Cluster: the channel's own answers). */
  override serverCount(): Promise<number> {
    const client = this.pubClient as Redis & { isCluster?: boolean; nodes?(role: string): Redis[] };
    const ask = (node: Redis): Promise<number> =>
      node.call("PUBSUB", "SHARDNUMSUB", this.channel).then((reply) => Number((reply as unknown[])[1] ?? 0));
    if (client.isCluster === true && client.nodes)
      return Promise.all(client.nodes("master").map(ask)).then((counts) => counts.reduce((a, b) => a + b, 0));
    return ask(client);
  }

  override close(): void {
    this.channels.unsubscribe(this.channel);
    this.channels.unsubscribe(this.responseChannel);
    for (const room of this.rooms.keys()) if (this.isPublic(room)) this.channels.unsubscribe(this.roomChannel(room));
  }
}

/** Socket.IO's socket ids are 20 characters long. */
function looksLikeSocketId(room: string): boolean {
  return room.length === 20;
}

function encodeOptions(opts: BroadcastOptions): { rooms: string[]; except: string[]; flags: BroadcastOptions["flags"] } {
  return { rooms: [...opts.rooms], except: [...(opts.except ?? [])], flags: opts.flags };
}
