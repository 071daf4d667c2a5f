/** A Redis stream entry id, `<ms>-<seq>`, as two numbers; `null` when `id` is not one. */
export function parseStreamId(id: unknown): [number, number] | null {
  if (typeof id !== "string") return null;
  const m = /^(\d+)-(\d+)$/.exec(id.trim());
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** Compares two stream ids (negative, 0 or positive, as for a sort). */
export function compareStreamIds(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

/** The first byte of a logged broadcast on the wire: `\x01<stream id>\n<payload>`. A stock adapter message never starts with it. */
export const LOGGED_MARK = 0x01;

/** Splits a logged broadcast into its stream id and payload; `null` for any other message. */
export function splitLogged(msg: unknown): { id: string; payload: Buffer } | null {
  if (!Buffer.isBuffer(msg) || msg[0] !== LOGGED_MARK) return null;
  const end = msg.indexOf(0x0a);
  if (end < 0) return null;
  return { id: msg.toString("latin1", 1, end), payload: msg.subarray(end + 1) };
}
