/**
 * Compares two V8 heap snapshots (`.heapsnapshot`): the self size and count of objects per
 * constructor (or type) that the second has more of, so a memory scenario can say what one
 * more connection costs, object by object.
 */
import { readFileSync } from "node:fs";

function tally(file) {
  const snap = JSON.parse(readFileSync(file, "utf8"));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf("type");
  const iName = fields.indexOf("name");
  const iSize = fields.indexOf("self_size");
  const { nodes, strings } = snap;
  const byKey = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    // Objects by constructor name; strings, closures, arrays... by their type.
    const key =
      type === "object" || type === "closure" ? `${type === "closure" ? "closure " : ""}${strings[nodes[i + iName]]}` : `(${type})`;
    const t = byKey.get(key) ?? { count: 0, bytes: 0 };
    t.count++;
    t.bytes += nodes[i + iSize];
    byKey.set(key, t);
  }
  return byKey;
}

/** Growth per `per` (e.g. per added connection) from snapshot `a` to `b`, largest first. */
export function heapDiff(a, b, per) {
  const ta = tally(a);
  const tb = tally(b);
  const out = [];
  for (const [key, vb] of tb) {
    const va = ta.get(key) ?? { count: 0, bytes: 0 };
    const bytes = (vb.bytes - va.bytes) / per;
    if (bytes > 0) out.push({ key, bytes, count: (vb.count - va.count) / per });
  }
  out.sort((x, y) => y.bytes - x.bytes);
  return { total: out.reduce((s, r) => s + r.bytes, 0), rows: out };
}
