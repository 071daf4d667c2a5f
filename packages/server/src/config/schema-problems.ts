/**
 * The problems the schema finds in a user's config, and its unknown keys, in the order of the
 * declaration: a group's unknown keys first, then its keys one by one (a list's items by
 * index).
 */
import { CONFIG_TREE, configIssues, isPlainObject, type ConfigNode } from "@loly-rt/core/config";
import { formatValue, type Collector } from "./collector.js";
import { suggest } from "./suggest.js";

interface Found {
  /** Position in the declaration: each key's index in its group (-1 for an unknown key), or a list index. */
  order: number[];
  path: string;
  text: string;
  /** The key whose value is refused: its default is used instead. */
  key: string;
}

function pathText(segments: readonly (string | number)[]): string {
  return segments.reduce<string>(
    (path, segment) => (typeof segment === "number" ? `${path}[${segment}]` : path === "" ? segment : `${path}.${segment}`),
    "",
  );
}

function orderOf(segments: readonly (string | number)[]): number[] {
  let node: ConfigNode | undefined = CONFIG_TREE;
  return segments.map((segment) => {
    if (typeof segment === "number") return segment;
    const index = node?.children?.findIndex((child) => child.key === segment) ?? -1;
    node = node?.children?.[index];
    return index;
  });
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  }
  return a.length - b.length;
}

/** Every key of a plain-object group of `input` the declaration does not have, with a "did you mean". */
function unknownKeys(node: ConfigNode, input: unknown, segments: string[], found: Found[]): void {
  if (node.children === undefined || !isPlainObject(input)) return;
  const names = node.children.map((child) => child.key);
  for (const key of Object.keys(input)) {
    if (names.includes(key)) continue;
    const path = pathText([...segments, key]);
    const hint = suggest(key, names, node.path);
    const text = `unknown key${hint ? ` (did you mean ${hint}?)` : ""}; allowed here: ${names.join(", ")}`;
    found.push({ order: orderOf([...segments, key]), path, text, key: path });
  }
  for (const child of node.children) unknownKeys(child, input[child.key], [...segments, child.key], found);
}

/** Adds the schema's problems of `input` to `out`, marking each refused key as bad. */
export function collectSchemaProblems(input: unknown, out: Collector): void {
  const found: Found[] = configIssues(input).map(({ path, expected, value }) => {
    const firstIndex = path.findIndex((segment) => typeof segment === "number");
    return {
      order: orderOf(path),
      path: path.length === 0 ? "config" : pathText(path),
      text: `expected ${expected}, got ${formatValue(value)}`,
      key: pathText(firstIndex === -1 ? path : path.slice(0, firstIndex)),
    };
  });
  unknownKeys(CONFIG_TREE, input, [], found);
  found.sort((a, b) => compare(a.order, b.order));
  for (const { path, text, key } of found) {
    out.other(path, text);
    out.bad.add(key);
  }
}
