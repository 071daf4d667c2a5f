import { ERROR_EVENT, type ClientErrorCode, type LolyLogger, type WssActions, type WssTarget } from "@loly-rt/core";
import { presenceJoin, presenceLeave, trackJoin } from "../socket/live-presence.js";
import type { SocketRecord } from "../socket/record.js";
import { joinableRoom, roomName, userRoom } from "../socket/rooms.js";
import { checkEmit } from "./emits.js";

/** What the actions need of their context: the event and request an error answers, the logger of a failed emit check. */
interface ActionSource {
  readonly event: string;
  readonly requestId: string;
  readonly log: LolyLogger;
}

/** `toRoom(room)` / `toUser(id)`: the whole room, or the room but the caller. */
class RoomTarget implements WssTarget {
  constructor(
    private readonly actions: Actions,
    private readonly rec: SocketRecord,
    private readonly room: string,
    /** `toRoom` or `toUser` and its argument: the development check's log line names them. */
    private readonly kind: "toRoom" | "toUser",
    private readonly target: string,
  ) {}
  emit(event: string, payload?: unknown): void {
    if (!this.rec.shared.production) this.actions.check(`${this.kind}(${JSON.stringify(this.target)}).emit`, event, payload);
    this.rec.socket.nsp.to(this.room).emit(event, payload);
  }
  broadcast(event: string, payload?: unknown): void {
    if (!this.rec.shared.production) this.actions.check(`${this.kind}(${JSON.stringify(this.target)}).broadcast`, event, payload);
    this.rec.socket.to(this.room).emit(event, payload);
  }
}

/**
 * `ctx.actions`, bound to one event of one socket. In development each emit is checked against
 * the route's `emits` first (see `emits.ts`); in production that is one boolean test.
 */
export class Actions implements WssActions {
  readonly #rec: SocketRecord;
  readonly #source: ActionSource;

  constructor(rec: SocketRecord, source: ActionSource) {
    this.#rec = rec;
    this.#source = source;
  }
  /** Development: checks a payload against the route's `emits`. */
  check(via: string, event: string, payload: unknown): void {
    checkEmit(this.#rec.route, () => this.#source.log, via, event, payload);
  }
  reply(event: string, payload?: unknown): void {
    if (!this.#rec.shared.production) this.check("reply", event, payload);
    // socket.io-client takes an event's last argument as its recovery offset when it is a
    // string: a string reply carries the current offset after it, so the client's stays right.
    const position = typeof payload === "string" ? this.#rec.shared.recoveryPosition?.(this.#rec.socket.nsp.name) : undefined;
    if (position !== undefined) this.#rec.socket.emit(event, payload, position);
    else this.#rec.socket.emit(event, payload);
  }
  emit(event: string, payload?: unknown): void {
    if (!this.#rec.shared.production) this.check("emit", event, payload);
    this.#rec.socket.nsp.emit(event, payload);
  }
  broadcast(event: string, payload?: unknown): void {
    if (!this.#rec.shared.production) this.check("broadcast", event, payload);
    this.#rec.socket.broadcast.emit(event, payload);
  }
  async join(room: string): Promise<void> {
    const rec = this.#rec;
    const name = joinableRoom(room);
    // A broadcasting route: a snapshot request waiting for this join reads after its presence write.
    const joined = rec.route.broadcastPresence ? trackJoin(rec.socket, name) : undefined;
    try {
      await rec.socket.join(name);
      if (rec.userId !== null) await presenceJoin(rec, room);
    } finally {
      joined?.();
    }
  }
  async leave(room: string): Promise<void> {
    const rec = this.#rec;
    await rec.socket.leave(joinableRoom(room));
    if (rec.userId !== null) await presenceLeave(rec, room);
  }
  toRoom(room: string): WssTarget {
    return new RoomTarget(this, this.#rec, roomName(room), "toRoom", room);
  }
  toUser(userId: string): WssTarget {
    const id = String(userId);
    return new RoomTarget(this, this.#rec, userRoom(id), "toUser", id);
  }
  error(code: ClientErrorCode, message: string, details?: unknown): void {
    this.#rec.socket.emit(ERROR_EVENT, {
      code,
      message,
      details,
      event: this.#source.event,
      requestId: this.#source.requestId,
    });
  }
}
