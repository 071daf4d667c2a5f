/**
 * The configuration schema as a tree of documented keys, read from the valibot schema
 * (`entries`, `wrapped`, `pipe`, the `optional` default, `description` and `metadata`): what
 * the server walks to list unknown keys with a "did you mean", order problems, apply
 * production defaults and describe every key.
 */
import * as v from "valibot";
import type { ConfigKeyMeta } from "./kinds.js";
import { CONFIG_SCHEMA } from "./schema.js";

/** One key of the configuration (or the root, whose `path` is `""`). */
export interface ConfigNode {
  /** Its name in its group (`"burst"`). */
  readonly key: string;
  /** Dotted key path (`"limits.burst"`). */
  readonly path: string;
  readonly description: string;
  /** The keys of a group, in declaration order; `undefined` for a value. */
  readonly children: readonly ConfigNode[] | undefined;
  /** A group without a default (absent stays absent), or a value without a default. */
  readonly optional: boolean;
  /** What a value key declares (`undefined` for a group). */
  readonly meta: ConfigKeyMeta | undefined;
  /** A fresh copy of the default (`undefined` for none); groups default to `{}`. */
  defaultValue(): unknown;
}

type AnySchema = v.GenericSchema & {
  readonly pipe?: readonly unknown[];
  readonly wrapped?: v.GenericSchema;
  readonly entries?: v.ObjectEntries;
};

/** The entries of the object inside a key's schema (through `optional` and pipes), if any. */
function entriesOf(schema: AnySchema): v.ObjectEntries | undefined {
  if (schema.entries !== undefined) return schema.entries;
  if (schema.wrapped !== undefined) return entriesOf(schema.wrapped);
  for (const item of schema.pipe ?? []) {
    const entries = (item as AnySchema).kind === "schema" ? entriesOf(item as AnySchema) : undefined;
    if (entries !== undefined) return entries;
  }
  return undefined;
}

function node(key: string, path: string, schema: AnySchema): ConfigNode {
  const entries = entriesOf(schema);
  const meta = v.getMetadata(schema as v.SchemaWithPipe<[v.GenericSchema]>) as Partial<ConfigKeyMeta>;
  return {
    key,
    path,
    description: v.getDescription(schema as v.SchemaWithPipe<[v.GenericSchema]>) ?? "",
    children:
      entries && Object.entries(entries).map(([name, child]) => node(name, path === "" ? name : `${path}.${name}`, child as AnySchema)),
    optional: v.getDefault(schema as v.OptionalSchema<v.GenericSchema, unknown>) === undefined,
    meta: meta.type === undefined ? undefined : (meta as ConfigKeyMeta),
    defaultValue: () => v.getDefault(schema as v.OptionalSchema<v.GenericSchema, unknown>),
  };
}

/** The root of the configuration: its children are the top-level keys. */
export const CONFIG_TREE: ConfigNode = node("", "", CONFIG_SCHEMA as AnySchema);

function flatten(parent: ConfigNode): ConfigNode[] {
  return (parent.children ?? []).flatMap((child) => [child, ...flatten(child)]);
}

/** Every key below the root, each group before its keys, in declaration order. */
export const CONFIG_KEYS: readonly ConfigNode[] = flatten(CONFIG_TREE);
