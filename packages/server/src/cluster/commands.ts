import { LolyError, type LolyLogger, type RealtimeConfig } from "@loly-rt/core";
import type { Server } from "socket.io";
import { errorMessage } from "../backends/bounded.js";
import type { SocketRecord } from "../socket/record.js";
import { userRoom } from "../socket/rooms.js";
import type {
  DisconnectUserResult,
  FetchSocketsFilter,
  FetchSocketsResult,
  FetchedSocket,
  RevalidateFilter,
  RevalidateResult,
} from "../types.js";
import { fetchLocal } from "./fetch.js";
import { Membership, newInstanceId } from "./membership.js";
import {
  CLUSTER_EVENT,
  type ClusterAnswer,
  type ClusterMessage,
  type ClusterOp,
  type ClusterOps,
  PROTOCOL,
  isAnswer,
  isClusterMessage,
  isFetchSocketsFilter,
  isRevalidateFilter,
} from "./messages.js";

/** This instance's side of the commands: what runs here, for a local or a remote caller. */
export interface LocalCommands {
  revalidate(filter: RevalidateFilter): Promise<Omit<RevalidateResult, "missing">>;
  /** The sockets admitted by the routes (what `fetchSockets` describes). */
  records(): Iterable<SocketRecord>;
}

/** What every instance of a call answered, and who did not answer by the deadline. */
interface Gathered<O extends ClusterOp> {
  answers: Array<{ instance: string; answer: ClusterAnswer<O> }>;
  missing: string[];
}

/** A call this instance waits on. */
interface Pending {
  readonly op: ClusterOp;
  /** Known instances that have not answered yet. */
  readonly waiting: Set<string>;
  /** Answers by instance, in arrival order. */
  readonly answers: Map<string, unknown>;
  /** The other instances' answers are in, or an instance left: finish when this one's is too. */
  check(): void;
  /** Resolve now with what is there. */
  finish(): void;
}

/**
 * `rt.disconnectUser`, `rt.revalidate` and `rt.fetchSockets`: run here, and in cluster mode
 * sent to every other instance, which run them on their own sockets and answer. A call
 * resolves as soon as every instance this one knows of (see {@link Membership}) has answered,
 * and at the latest after `scale.commandTimeoutMs` with the answers it has and the ids of the
 * instances that did not answer (`missing`): a frozen or restarting instance makes a call
 * slower, never fail. An instance that receives a request late (it was frozen) still runs it:
 * a disconnect or a revalidation is carried out when it thaws; only its answer is too late.
 */
export class ClusterCommands {
  /** This instance's id (`<hostname>:<pid>:<random>`), as other instances name it in `missing`. */
  readonly instanceId = newInstanceId();
  private readonly membership: Membership | undefined;
  private readonly timeoutMs: number;
  private readonly pending = new Map<string, Pending>();
  private nextRid = 0;
  private closed = false;

  constructor(
    private readonly io: Server,
    config: RealtimeConfig,
    private readonly local: LocalCommands,
    private readonly logger: LolyLogger,
  ) {
    this.timeoutMs = config.scale.commandTimeoutMs;
    if (config.scale.mode !== "cluster") return;
    const membership = new Membership(
      this.instanceId,
      {
        hello: (ask) => this.send({ v: PROTOCOL, type: "hello", from: this.instanceId, ask }),
        bye: () => this.send({ v: PROTOCOL, type: "bye", from: this.instanceId }),
      },
      config.presence.ttlMs,
    );
    this.membership = membership;
    io.on(CLUSTER_EVENT, (msg: unknown) => this.receive(msg, membership));
    membership.start();
  }

  /** Disconnects every socket of `userId` in every namespace, here and (cluster mode) everywhere. */
  async disconnectUser(userId: string): Promise<DisconnectUserResult> {
    const id = String(userId);
    const { answers, missing } = await this.gather("disconnectUser", { userId: id }, () => ({ disconnected: this.disconnectLocal(id) }));
    let disconnected = 0;
    for (const { answer } of answers) disconnected += answer.disconnected;
    return { instances: answers.length, disconnected, missing };
  }

  /** Re-checks auth here and (cluster mode) on every instance that answers in time; sums the results. */
  async revalidate(filter: RevalidateFilter): Promise<RevalidateResult> {
    if (!isRevalidateFilter(filter))
      throw new LolyError("INVALID_CONFIG", "revalidate(filter): filter must be { userId?: string, namespace?: string }");
    const { answers, missing } = await this.gather("revalidate", filter, async () => {
      const r = await this.local.revalidate(filter);
      return { checked: r.checked, disconnected: r.disconnected, failed: r.failed };
    });
    const result: RevalidateResult = { instances: answers.length, checked: 0, disconnected: 0, failed: 0, missing };
    for (const { answer } of answers) {
      result.checked += answer.checked;
      result.disconnected += answer.disconnected;
      result.failed += answer.failed;
    }
    return result;
  }

  /** Describes the matching sockets here and (cluster mode) on every instance that answers in time. */
  async fetchSockets(filter: FetchSocketsFilter): Promise<FetchSocketsResult> {
    if (!isFetchSocketsFilter(filter))
      throw new LolyError("INVALID_CONFIG", "fetchSockets(filter): filter must be { room?: string, user?: string, namespace?: string }");
    const { answers, missing } = await this.gather("fetchSockets", filter, () => ({ sockets: fetchLocal(this.local.records(), filter) }));
    const results: FetchedSocket[] = [];
    for (const { instance, answer } of answers) for (const s of answer.sockets) results.push({ ...s, instance });
    return { instances: answers.length, results, missing };
  }

  /**
   * Says bye (nobody waits for this instance any more), stops the heartbeat, and resolves the
   * calls still waiting with what they have. Call it before Socket.IO closes. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.membership?.close();
    for (const p of [...this.pending.values()]) p.finish();
  }

  private disconnectLocal(userId: string): number {
    const room = userRoom(userId);
    let n = 0;
    for (const nsp of this.io._nsps.values()) {
      n += nsp.adapter.rooms.get(room)?.size ?? 0;
      nsp.local.in(room).disconnectSockets(true);
    }
    return n;
  }

  /**
   * Runs `op` here and asks every other instance; resolves once every instance known now has
   * answered (and this one is done), or after `scale.commandTimeoutMs` with who did not.
   */
  private gather<O extends ClusterOp>(
    op: O,
    args: ClusterOps[O]["args"],
    runLocal: () => ClusterAnswer<O> | Promise<ClusterAnswer<O>>,
  ): Promise<Gathered<O>> {
    const membership = this.membership;
    if (membership === undefined || this.closed) {
      return Promise.resolve(runLocal()).then((answer) => ({ answers: [{ instance: this.instanceId, answer }], missing: [] }));
    }
    const rid = (this.nextRid++).toString(36);
    const started = performance.now();
    return new Promise<Gathered<O>>((resolve) => {
      let mine: { answer: ClusterAnswer<O> } | "pending" | "failed" = "pending";
      const waiting = new Set(membership.peers());
      const answers = new Map<string, unknown>();
      const finish = (): void => {
        if (!this.pending.delete(rid)) return;
        clearTimeout(timer);
        const missing = [...waiting];
        if (mine === "pending" || mine === "failed") missing.unshift(this.instanceId);
        const gathered: Gathered<O> = { answers: [], missing };
        if (typeof mine === "object") gathered.answers.push({ instance: this.instanceId, answer: mine.answer });
        for (const [instance, answer] of answers) gathered.answers.push({ instance, answer: answer as ClusterAnswer<O> });
        if (missing.length > 0) {
          this.logger.warn(
            { component: "cluster", op, missing, answered: gathered.answers.length, waitedMs: Math.round(performance.now() - started) },
            `${op}: ${missing.length} instance(s) did not answer within scale.commandTimeoutMs (${this.timeoutMs} ms); the result counts the ${gathered.answers.length} that did`,
          );
        }
        resolve(gathered);
      };
      const pending: Pending = {
        op,
        waiting,
        answers,
        check: () => {
          if (waiting.size === 0 && mine !== "pending") finish();
        },
        finish,
      };
      const timer = setTimeout(finish, this.timeoutMs);
      this.pending.set(rid, pending);
      // Asked first: the others work while this instance does.
      this.send({ v: PROTOCOL, type: "request", from: this.instanceId, rid, op, args } as ClusterMessage);
      let ran: Promise<ClusterAnswer<O>>;
      try {
        ran = Promise.resolve(runLocal());
      } catch (err) {
        ran = Promise.reject(err);
      }
      ran.then(
        (answer) => {
          mine = { answer };
          pending.check();
        },
        (err: unknown) => {
          mine = "failed";
          this.logger.warn({ component: "cluster", op, err: { message: errorMessage(err) } }, `${op}: failed on this instance`);
          pending.check();
        },
      );
    });
  }

  private receive(value: unknown, membership: Membership): void {
    if (this.closed || !isClusterMessage(value) || value.from === this.instanceId) return;
    const msg = value;
    switch (msg.type) {
      case "hello":
        membership.saw(msg.from);
        if (msg.ask) this.send({ v: PROTOCOL, type: "hello", from: this.instanceId, ask: false });
        return;
      case "bye":
        membership.left(msg.from);
        // It left: its sockets are gone, nothing to wait for.
        for (const p of this.pending.values()) if (p.waiting.delete(msg.from)) p.check();
        return;
      case "request":
        membership.saw(msg.from);
        this.serve(msg);
        return;
      case "reply": {
        membership.saw(msg.from);
        if (msg.to !== this.instanceId) return;
        const p = this.pending.get(msg.rid);
        if (p === undefined || p.answers.has(msg.from)) return;
        if (!isAnswer(p.op, msg.answer)) {
          this.logger.warn({ component: "cluster", op: p.op, instance: msg.from }, `${p.op}: ignored a malformed answer`);
          return;
        }
        p.answers.set(msg.from, msg.answer);
        p.waiting.delete(msg.from);
        p.check();
        return;
      }
    }
  }

  /** Runs another instance's request here and answers it. */
  private serve(msg: Extract<ClusterMessage, { type: "request" }>): void {
    const reply = (answer: unknown): void =>
      this.send({ v: PROTOCOL, type: "reply", from: this.instanceId, to: msg.from, rid: msg.rid, answer });
    const failed = (err: unknown): void =>
      this.logger.warn({ component: "cluster", op: msg.op, err: { message: errorMessage(err) } }, `${msg.op}: failed on this instance`);
    try {
      switch (msg.op) {
        case "disconnectUser":
          reply({ disconnected: this.disconnectLocal(msg.args.userId) });
          return;
        case "fetchSockets":
          reply({ sockets: fetchLocal(this.local.records(), msg.args) });
          return;
        case "revalidate":
          this.local
            .revalidate(msg.args)
            .then((r) => reply({ checked: r.checked, disconnected: r.disconnected, failed: r.failed }), failed);
          return;
      }
    } catch (err) {
      // Not answered: the caller names this instance in `missing`.
      failed(err);
    }
  }

  /** Publishes through the adapter; a failure (Redis away) is the adapter's to report, and the call waits for its deadline. */
  private send(msg: ClusterMessage): void {
    try {
      this.io.serverSideEmit(CLUSTER_EVENT, msg);
    } catch (err) {
      this.logger.warn({ component: "cluster", type: msg.type, err: { message: errorMessage(err) } }, "cluster message not sent");
    }
  }
}
