/**
 * On Redis Cluster a script touches keys of one hash slot only, and the presence and count
 * scripts read across instances: their keys are split into {@link CLUSTER_GROUPS} groups, each
 * under a hash tag of its own (`{<prefix>presence:<g>}:`, `{<prefix>conn:<g>}:`), so that the
 * load spreads over the slots. A namespace (presence) or an IP (counts) belongs to the group
 * {@link groupOf} gives it, the same in every process of every version.
 */

/** How many groups (hash tags) presence and counts are split into on Redis Cluster. */
export const CLUSTER_GROUPS = 16;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a 32-bit over the UTF-8 bytes of `text` (unsigned). */
export function fnv1a32(text: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Namespaces and IPs are ASCII: hash their code units as they are, bytes only for the rest.
    if (c >= 0x80) return fnvBytes(h, Buffer.from(text.slice(i), "utf8"));
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  return h >>> 0;
}

function fnvBytes(h: number, bytes: Uint8Array): number {
  for (const b of bytes) h = Math.imul(h ^ b, FNV_PRIME);
  return h >>> 0;
}

/** The group (0 to `CLUSTER_GROUPS - 1`) of a namespace or an IP. */
export function groupOf(key: string): number {
  return fnv1a32(key) % CLUSTER_GROUPS;
}
