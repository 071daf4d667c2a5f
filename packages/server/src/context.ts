import { randomUUID } from "node:crypto";
import type { Namespace, Socket } from "socket.io";
import {
  ERROR_EVENT,
  LolyError,
  type ClientErrorCode,
  type LolyLogger,
  type RealtimeStateStore,
  type WssActions,
  type WssHandshake,
  type WssMetrics,
  type WssPresence,
  type WssRequest,
  type WssSocket,
  type WssTarget,
} from "@loly-rt/core";
import { parseCookies } from "./net.js";
import type { SocketRecord } from "./record.js";

/** Rooms of this prefix are the server's (`user:<id>`): handlers cannot join or leave them. */
export const USER_ROOM_PREFIX = "user:";

export function userRoom(userId: string): string {
  return USER_ROOM_PREFIX + userId;
}

function checkRoom(room: unknown): string {
  if (typeof room !== "string" || room.length === 0) throw new LolyError("INTERNAL", "room must be a non-empty string");
  if (room.startsWith(USER_ROOM_PREFIX)) {
    throw new LolyError("FORBIDDEN", `room names starting with "${USER_ROOM_PREFIX}" are reserved; use actions.toUser(userId)`);
  }
  return room;
}

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

/** `ctx.actions`, bound to one event of one socket. */
class Actions implements WssActions {
  constructor(private readonly ctx: EventContext) {}
  reply(event: string, payload?: unknown): void {
    this.ctx.record.socket.emit(event, payload);
  }
  emit(event: string, payload?: unknown): void {
    this.ctx.record.socket.nsp.emit(event, payload);
  }
  broadcast(event: string, payload?: unknown): void {
    this.ctx.record.socket.broadcast.emit(event, payload);
  }
  async join(room: string): Promise<void> {
    const rec = this.ctx.record;
    await rec.socket.join(checkRoom(room));
    if (rec.userId !== null) await rec.shared.bounded(rec.shared.presence.join(rec.socket.nsp.name, rec.socket.id, room), "presence.join");
  }
  async leave(room: string): Promise<void> {
    const rec = this.ctx.record;
    await rec.socket.leave(checkRoom(room));
    if (rec.userId !== null) await rec.shared.bounded(rec.shared.presence.leave(rec.socket.nsp.name, rec.socket.id, room), "presence.leave");
  }
  toRoom(room: string): WssTarget {
    if (typeof room !== "string" || room.length === 0) throw new LolyError("INTERNAL", "room must be a non-empty string");
    return new RoomTarget(this.ctx.record.socket.nsp, this.ctx.record.socket, room);
  }
  toUser(userId: string): WssTarget {
    return new RoomTarget(this.ctx.record.socket.nsp, this.ctx.record.socket, userRoom(String(userId)));
  }
  error(code: ClientErrorCode, message: string, details?: unknown): void {
    this.ctx.record.socket.emit(ERROR_EVENT, {
      code,
      message,
      details,
      event: this.ctx.event,
      requestId: this.ctx.requestId,
    });
  }
}

/** Lazily built request view of a socket's handshake (cached on the record). */
export function requestOf(rec: SocketRecord): WssRequest {
  if (rec.req === undefined) {
    const hs = rec.socket.handshake;
    let cookies: Record<string, string> | undefined;
    rec.req = {
      headers: hs.headers,
      ip: rec.ip,
      url: hs.url,
      get cookies() {
        return (cookies ??= parseCookies(hs.headers.cookie));
      },
    };
  }
  return rec.req;
}

/** The per-socket logger: a child bound to namespace, socketId and userId (cached). */
export function socketLogger(rec: SocketRecord): LolyLogger {
  return (rec.log ??= rec.shared.logger.child({
    namespace: rec.socket.nsp.name,
    socketId: rec.socket.id,
    userId: rec.userId,
  }));
}

/**
 * The handler context. Only `data`, `event` and the record are set per event; everything
 * else is built on first read (a handler that reads nothing costs one small object).
 */
export class EventContext {
  private _requestId: string | undefined;
  private _log: LolyLogger | undefined;
  private _actions: WssActions | undefined;
  /** Why the socket left (`onDisconnect`). */
  reason?: string;

  constructor(
    readonly record: SocketRecord,
    readonly event: string,
    public data: unknown,
    /** Monotonic time (ms) the pipeline last stood at: bucket decisions and handler timing use it. */
    public at: number = 0,
  ) {}

  get socket(): WssSocket {
    return this.record.socket as unknown as WssSocket;
  }
  get requestId(): string {
    return (this._requestId ??= randomUUID());
  }
  get req(): WssRequest {
    return requestOf(this.record);
  }
  get handshake(): WssHandshake {
    return this.record.socket.handshake as unknown as WssHandshake;
  }
  get user(): unknown {
    return this.record.user;
  }
  get params(): Record<string, string> {
    return this.record.params;
  }
  get namespace(): string {
    return this.record.socket.nsp.name;
  }
  get state(): RealtimeStateStore {
    return this.record.shared.state;
  }
  get presence(): WssPresence {
    return this.record.presenceView();
  }
  get metrics(): WssMetrics {
    return this.record.shared.metrics.app;
  }
  get log(): LolyLogger {
    return (this._log ??= socketLogger(this.record).child({ event: this.event, requestId: this.requestId }));
  }
  get actions(): WssActions {
    return (this._actions ??= new Actions(this));
  }
}
