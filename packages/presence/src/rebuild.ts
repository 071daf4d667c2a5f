import type { ChangeList } from "./model.js";
import { FIELDS_PER_CALL, HASHES_PER_CALL } from "./lua.js";

/** How much one script call may carry. */
export interface CallLimits {
  fields: number;
  hashes: number;
}

const LIMITS: CallLimits = { fields: FIELDS_PER_CALL, hashes: HASHES_PER_CALL };

/**
 * Splits the groups of a re-assert (`snapshot` hash writes, see `REBUILD`) into calls of at
 * most `limits.fields` fields and `limits.hashes` hashes each: one `string[]` of groups
 * `[suffix, part, n, field, value...]` per call, at least one (empty) call. A hash that fits in
 * one call is never split ("w"); a larger one is cut into "f", "m"... "l" parts.
 */
export function planRebuild(snapshot: ChangeList, limits: CallLimits = LIMITS): string[][] {
  const hashes = new Map<string, string[]>();
  for (let i = 0; i + 2 < snapshot.length; i += 3) {
    const suffix = snapshot[i] as string;
    const value = snapshot[i + 2] as string;
    if (value === "") continue;
    let pairs = hashes.get(suffix);
    if (!pairs) {
      pairs = [];
      hashes.set(suffix, pairs);
    }
    pairs.push(snapshot[i + 1] as string, value);
  }
  const calls: string[][] = [];
  let call: string[] = [];
  let fields = 0;
  let count = 0;
  const flush = (): void => {
    calls.push(call);
    call = [];
    fields = 0;
    count = 0;
  };
  for (const [suffix, pairs] of hashes) {
    const total = pairs.length / 2;
    if (count >= limits.hashes || (total <= limits.fields && fields + total > limits.fields)) flush();
    for (let done = 0; done < total; ) {
      if (fields >= limits.fields || count >= limits.hashes) flush();
      const n = Math.min(total - done, limits.fields - fields);
      const first = done === 0;
      const last = done + n === total;
      call.push(suffix, first && last ? "w" : first ? "f" : last ? "l" : "m", String(n));
      for (let j = done * 2; j < (done + n) * 2; j++) call.push(pairs[j] as string);
      done += n;
      fields += n;
      count++;
    }
  }
  if (call.length > 0 || calls.length === 0) flush();
  return calls;
}

/**
 * Splits a list of hash writes (`WRITE`) into lists of at most `limits.fields` writes that
 * touch at most `limits.hashes` hashes each (most lists are one: a socket leaving many rooms
 * at once is what makes more).
 */
export function splitWrites(changes: ChangeList, limits: CallLimits = LIMITS): ChangeList[] {
  const most = Math.min(limits.fields, limits.hashes) * 3;
  if (changes.length <= most) return [changes];
  const parts: ChangeList[] = [];
  for (let i = 0; i < changes.length; i += most) parts.push(changes.slice(i, i + most));
  return parts;
}
