import type { ServerOptions } from "socket.io";

/** A Socket.IO parser module: what the `parser` option of a Socket.IO server takes. */
export type ParserModule = NonNullable<ServerOptions["parser"]>;

interface InnerDecoder {
  add(chunk: unknown): void;
  destroy(): void;
  on(event: "decoded", fn: (packet: unknown) => void): unknown;
}

interface InnerEncoder {
  encode(packet: unknown): unknown[];
}

/**
 * Whether a parser's decoder calls its `decoded` listeners with itself as `this` (as
 * component-emitter and Node's EventEmitter do), synchronously in `add`: tried once on a
 * CONNECT packet of its own encoder.
 */
function callsWithThis(parser: ParserModule): boolean {
  try {
    const Decoder = parser.Decoder as unknown as new () => InnerDecoder;
    const Encoder = parser.Encoder as unknown as new () => InnerEncoder;
    const decoder = new Decoder();
    let seen: unknown;
    decoder.on("decoded", function (this: unknown) {
      seen = this;
    });
    for (const chunk of new Encoder().encode({ type: 0, nsp: "/" })) decoder.add(chunk);
    decoder.destroy();
    return seen === decoder;
  } catch {
    return false;
  }
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
 * Bounds a parser so that one message is one cap: the chunks of a message that spans several
 * Engine.IO packets (a header and its binary attachments, with the default parser) count
 * together against `maxBytes`, and a message still incomplete after `maxWaitMs` is dropped.
 * Engine.IO already bounds each packet; a message that decodes from one chunk (every text
 * message) costs one extra check. A message over the cap throws from `add`, which makes
 * Socket.IO close that connection, as Engine.IO does for an oversized packet.
 *
 * The bounded decoder is the parser's own `Decoder`, extended (one object per connection, as
 * without the cap): its `decoded` listener (Socket.IO's, registered once per connection) goes
 * through one shared function that sees each message complete (a closure per connection for
 * a parser whose decoder does not call listeners with itself as `this`).
 */
export function boundedParser(inner: ParserModule, maxBytes: number, maxWaitMs: number): ParserModule {
  const Inner = inner.Decoder as unknown as new () => InnerDecoder;
  const shared = callsWithThis(inner);

  class BoundedDecoder extends Inner {
    /** Bytes of the message being reassembled (0: none). */
    private pending = 0;
    private decoded = false;
    private timer: NodeJS.Timeout | undefined = undefined;
    /** The `decoded` listener behind the shared one. */
    private listener: ((packet: unknown) => void) | undefined = undefined;

    /** A message came out whole: to the listener behind the shared one. */
    deliver(packet: unknown): void {
      this.complete();
      (this.listener as (packet: unknown) => void).call(this, packet);
    }

    override on(event: "decoded", fn: (packet: unknown) => void): unknown {
      if (event !== "decoded") return super.on(event, fn);
      if (shared && this.listener === undefined) {
        this.listener = fn;
        return super.on(event, onDecoded);
      }
      const self = this;
      return super.on(event, function (this: unknown, packet: unknown): void {
        self.complete();
        fn.call(this, packet);
      });
    }

    /** A message came out whole. */
    private complete(): void {
      this.decoded = true;
      if (this.pending > 0) this.settle();
    }

    override add(chunk: unknown): void {
      if (this.pending === 0) {
        this.decoded = false;
        super.add(chunk);
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
      super.add(chunk);
    }

    override destroy(): void {
      this.settle();
      super.destroy();
    }

    /** Drops the message being reassembled. */
    private drop(): void {
      this.settle();
      super.destroy();
    }

    private settle(): void {
      this.pending = 0;
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
  /** Every bounded decoder's `decoded` listener (`this` is the decoder). */
  function onDecoded(this: BoundedDecoder, packet: unknown): void {
    this.deliver(packet);
  }
  return { Encoder: inner.Encoder, Decoder: BoundedDecoder as unknown as ParserModule["Decoder"] };
}
