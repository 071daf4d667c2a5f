import { EventEmitter } from "node:events";
import type { ServerOptions } from "socket.io";

/** A Socket.IO parser module: what the `parser` option of a Socket.IO server takes. */
export type ParserModule = NonNullable<ServerOptions["parser"]>;

interface InnerDecoder {
  add(chunk: unknown): void;
  destroy(): void;
  on(event: "decoded", fn: (packet: unknown) => void): unknown;
}

/** A message that would exceed `maxPayloadBytes` once its binary attachments are counted. */
export class MessageTooLargeError extends Error {
  constructor(maxBytes: number) {
    super(`message over maxPayloadBytes (${maxBytes} bytes, binary attachments included)`);
    this.name = "MessageTooLargeError";
  }
}

function sizeOf(chunk: unknown): number {
  if (typeof chunk === "string") return Buffer.byteLength(chunk);
  if (chunk instanceof ArrayBuffer || ArrayBuffer.isView(chunk)) return chunk.byteLength;
  return 0;
}

/**
 * Wraps a parser so that one message is one cap: the chunks of a message that spans several
 * Engine.IO packets (a header and its binary attachments, with the default parser) count
 * together against `maxBytes`, and a message still incomplete after `maxWaitMs` is dropped.
 * Engine.IO already bounds each packet; a message that decodes from one chunk (every text
 * message) costs one extra call. A message over the cap throws from `add`, which makes
 * Socket.IO close that connection, as Engine.IO does for an oversized packet.
 */
export function boundedParser(inner: ParserModule, maxBytes: number, maxWaitMs: number): ParserModule {
  const Inner = inner.Decoder as unknown as new () => InnerDecoder;
  class BoundedDecoder extends EventEmitter {
    private readonly decoder = new Inner();
    /** Bytes of the message being reassembled (0: none). */
    private pending = 0;
    private decoded = false;
    private timer: NodeJS.Timeout | undefined;

    constructor() {
      super();
      this.decoder.on("decoded", (packet) => {
        this.decoded = true;
        if (this.pending > 0) this.settle();
        this.emit("decoded", packet);
      });
    }

    add(chunk: unknown): void {
      if (this.pending === 0) {
        this.decoded = false;
        this.decoder.add(chunk);
        if (this.decoded) return;
        // The first chunk of a message that needs more (a binary event waiting for attachments).
        this.pending = Math.max(1, sizeOf(chunk));
        this.timer = setTimeout(() => this.drop(), maxWaitMs);
        this.timer.unref();
        return;
      }
      this.pending += sizeOf(chunk);
      if (this.pending > maxBytes) {
        this.drop();
        throw new MessageTooLargeError(maxBytes);
      }
      this.decoder.add(chunk);
    }

    destroy(): void {
      this.settle();
      this.decoder.destroy();
    }

    /** Drops the message being reassembled. */
    private drop(): void {
      this.settle();
      this.decoder.destroy();
    }

    private settle(): void {
      this.pending = 0;
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
  return { Encoder: inner.Encoder, Decoder: BoundedDecoder as unknown as ParserModule["Decoder"] };
}
