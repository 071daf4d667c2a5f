import { ERROR_EVENT, type ClientErrorCode, type WssActions, type WssTarget } from "@loly-rt/core";
import type { Namespace, Socket } from "socket.io";
import type { SocketRecord } from "../socket/record.js";
import { joinableRoom, roomName, userRoom } from "../socket/rooms.js";

/** `toRoom(room)` / `toUser(id)`: the whole room, or the room but the caller. */
class RoomTarget implements WssTarget {
  constructor(
    private readonly nsp: Namespace,
    private readonly socket: Socket,
    private readonly room: string,
  ) {}
  emit(event: string, payload?: unknown): void {
    this.nsp.to(this.room).emit(event, payload);
  }
  broadcast(event: string, payload?: unknown): void {
    this.socket.to(this.room).emit(event, payload);
  }
}

/** What `ctx.actions.error` needs of its context. */
interface ErrorSource {
  readonly event: string;
  readonly requestId: string;
}

/** `ctx.actions`, bound to one event of one socket. */
export class Actions implements WssActions {
  readonly #rec: SocketRecord;
  readonly #source: ErrorSource;

  constructor(rec: SocketRecord, source: ErrorSource) {
    this.#rec = rec;
    this.#source = source;
  }
  reply(event: string, payload?: unknown): void {
    // socket.io-client takes an event's last argument as its recovery offset when it is a
    // string: a string reply carries the current offset after it, so the client's stays right.
    const position = typeof payload === "string" ? this.#rec.shared.recoveryPosition?.(this.#rec.socket.nsp.name) : undefined;
    if (position !== undefined) this.#rec.socket.emit(event, payload, position);
    else this.#rec.socket.emit(event, payload);
  }
  emit(event: string, payload?: unknown): void {
    this.#rec.socket.nsp.emit(event, payload);
  }
  broadcast(event: string, payload?: unknown): void {
    this.#rec.socket.broadcast.emit(event, payload);
  }
  async join(room: string): Promise<void> {
    const rec = this.#rec;
    await rec.socket.join(joinableRoom(room));
    if (rec.userId !== null) await rec.shared.bounded(rec.shared.presence.join(rec.socket.nsp.name, rec.socket.id, room), "presence.join");
  }
  async leave(room: string): Promise<void> {
    const rec = this.#rec;
    await rec.socket.leave(joinableRoom(room));
    if (rec.userId !== null)
      await rec.shared.bounded(rec.shared.presence.leave(rec.socket.nsp.name, rec.socket.id, room), "presence.leave");
  }
  toRoom(room: string): WssTarget {
    return new RoomTarget(this.#rec.socket.nsp, this.#rec.socket, roomName(room));
  }
  toUser(userId: string): WssTarget {
    return new RoomTarget(this.#rec.socket.nsp, this.#rec.socket, userRoom(String(userId)));
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
