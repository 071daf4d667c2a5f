import { describe, expect, it } from "vitest";
import * as defaultParser from "socket.io-parser";
import { boundedParser, MessageTooLargeError, type ParserModule } from "./bounded-parser.js";

interface TestDecoder {
  add(chunk: unknown): void;
  destroy(): void;
  on(event: "decoded", fn: (packet: unknown) => void): unknown;
}

/** A decoder that decodes JSON text and calls its listener with no `this`, as a hand-written parser might. */
class ThislessDecoder {
  private listener: ((packet: unknown) => void) | undefined;
  on(_event: "decoded", fn: (packet: unknown) => void): this {
    this.listener = fn;
    return this;
  }
  add(chunk: unknown): void {
    const fn = this.listener;
    fn?.(JSON.parse(String(chunk)));
  }
  destroy(): void {}
}
class JsonEncoder {
  encode(packet: unknown): unknown[] {
    return [JSON.stringify(packet)];
  }
}
const thisless = { Encoder: JsonEncoder, Decoder: ThislessDecoder } as unknown as ParserModule;

function decoderOf(parser: ParserModule): { decoder: TestDecoder; decoded: unknown[]; self: unknown[] } {
  const decoder = new (parser.Decoder as unknown as new () => TestDecoder)();
  const decoded: unknown[] = [];
  const self: unknown[] = [];
  decoder.on("decoded", function (this: unknown, packet) {
    decoded.push(packet);
    self.push(this);
  });
  return { decoder, decoded, self };
}

/** A binary EVENT of the default parser: its header, then `attachments` buffers of `size` bytes. */
function binaryEvent(attachments: number, size: number): unknown[] {
  const data = ["up", ...Array.from({ length: attachments }, () => Buffer.alloc(size, 1))];
  return new defaultParser.Encoder().encode({ type: defaultParser.PacketType.EVENT, nsp: "/", data });
}

describe("boundedParser", () => {
  it("with Socket.IO's parser: text and binary messages decode; the listener is called with the decoder as `this`", () => {
    const { decoder, decoded, self } = decoderOf(boundedParser(defaultParser as unknown as ParserModule, 10_000, 1000));
    decoder.add('2["hello",1]');
    for (const chunk of binaryEvent(2, 100)) decoder.add(chunk);
    expect(decoded).toHaveLength(2);
    expect(decoded[0]).toMatchObject({ type: 2, data: ["hello", 1] });
    expect((decoded[1] as { data: unknown[] }).data[0]).toBe("up");
    expect((decoded[1] as { data: unknown[] }).data).toHaveLength(3);
    expect(self).toEqual([decoder, decoder]);
  });

  it("counts a message's attachments together against the cap: over it, add throws and the next message decodes", () => {
    const { decoder, decoded } = decoderOf(boundedParser(defaultParser as unknown as ParserModule, 1000, 1000));
    const [header, ...buffers] = binaryEvent(3, 400);
    decoder.add(header);
    decoder.add(buffers[0]);
    decoder.add(buffers[1]);
    expect(() => decoder.add(buffers[2])).toThrow(MessageTooLargeError);
    decoder.add('2["after"]');
    expect(decoded).toEqual([expect.objectContaining({ data: ["after"] })]);
  });

  it("drops a message still incomplete after maxWaitMs: its late attachment starts nothing", async () => {
    const { decoder, decoded } = decoderOf(boundedParser(defaultParser as unknown as ParserModule, 10_000, 50));
    const [header, buffer] = binaryEvent(1, 10);
    decoder.add(header);
    await new Promise((r) => setTimeout(r, 120));
    decoder.add('2["next"]');
    expect(decoded).toEqual([expect.objectContaining({ data: ["next"] })]);
    // The dropped message's attachment, arriving late, is not taken for anything.
    expect(() => decoder.add(buffer)).toThrow();
    expect(decoded).toHaveLength(1);
  });

  it("a parser whose decoder calls listeners without `this` still decodes every message (a closure per decoder)", () => {
    const { decoder, decoded } = decoderOf(boundedParser(thisless, 1000, 1000));
    decoder.add(JSON.stringify({ type: 2, data: ["a"] }));
    decoder.add(JSON.stringify({ type: 2, data: ["b"] }));
    expect(decoded).toEqual([
      { type: 2, data: ["a"] },
      { type: 2, data: ["b"] },
    ]);
  });
});
