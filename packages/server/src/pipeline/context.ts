import { randomUUID } from "node:crypto";
import type {
  LolyLogger,
  RealtimeStateStore,
  WssActions,
  WssHandshake,
  WssMetrics,
  WssPresence,
  WssRequest,
  WssSocket,
} from "@loly-rt/core";
import type { SocketRecord } from "../socket/record.js";
import { Actions } from "./actions.js";

/**
 * The context of a handler, guard or connection hook. Only `data` and `event` are set per
 * event; everything else is built on first read (a handler that reads nothing costs one small
 * object). The socket's record stays private: handlers see the documented fields only.
 */
export class EventContext {
  readonly #record: SocketRecord;
  #requestId: string | undefined;
  #log: LolyLogger | undefined;
  #actions: WssActions | undefined;
  /** Why the socket left (`onDisconnect`). */
  reason?: string;

  constructor(
    record: SocketRecord,
    readonly event: string,
    public data: unknown,
  ) {
    this.#record = record;
  }

  get socket(): WssSocket {
    return this.#record.socket as unknown as WssSocket;
  }
  get requestId(): string {
    return (this.#requestId ??= randomUUID());
  }
  get req(): WssRequest {
    return this.#record.request();
  }
  get handshake(): WssHandshake {
    return this.#record.socket.handshake as unknown as WssHandshake;
  }
  get user(): unknown {
    return this.#record.user;
  }
  get params(): Record<string, string> {
    return this.#record.params;
  }
  get namespace(): string {
    return this.#record.socket.nsp.name;
  }
  get state(): RealtimeStateStore {
    return this.#record.shared.state;
  }
  get presence(): WssPresence {
    return this.#record.presence();
  }
  get metrics(): WssMetrics {
    return this.#record.shared.metrics.app;
  }
  get log(): LolyLogger {
    return (this.#log ??= this.#record.logger().child({ event: this.event, requestId: this.requestId }));
  }
  /** True when the socket recovered its session (`onConnect`). */
  get recovered(): boolean {
    return this.#record.recovered;
  }
  get actions(): WssActions {
    return (this.#actions ??= new Actions(this.#record, this));
  }
}
