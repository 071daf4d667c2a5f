/**
 * The doc comments written on the schema's keys (what editors show when hovering
 * `config.limits.burst`) say what the schema itself says: its description and default.
 */
import { readFileSync } from "node:fs";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS, type ConfigNode } from "./tree.js";

const FILE = new URL("./schema.ts", import.meta.url);

/** Each key's doc comment in schema.ts by path: its text and its `@default` tag (if any). */
function docComments(): Map<string, { text: string; default: string | undefined }> {
  const source = ts.createSourceFile("schema.ts", readFileSync(FILE, "utf8"), ts.ScriptTarget.Latest, true);
  const found = new Map<string, { text: string; default: string | undefined }>();
  const visit = (literal: ts.ObjectLiteralExpression, base: string): void => {
    for (const property of literal.properties) {
      if (!ts.isPropertyAssignment(property) || !ts.isIdentifier(property.name)) continue;
      const path = base === "" ? property.name.text : `${base}.${property.name.text}`;
      const doc = ts.getJSDocCommentsAndTags(property).find(ts.isJSDoc);
      const tag = doc?.tags?.find((t) => t.tagName.text === "default");
      found.set(path, {
        text: ts.getTextOfJSDocComment(doc?.comment)?.replace(/\s+/g, " ").trim() ?? "",
        default: tag && ts.getTextOfJSDocComment(tag.comment)?.trim(),
      });
      const entries = ts.isCallExpression(property.initializer) ? property.initializer.arguments[1] : undefined;
      if (entries && ts.isObjectLiteralExpression(entries)) visit(entries, path);
    }
  };
  const visitAll = (node: ts.Node): void => {
    if (
      ts.isVariableDeclaration(node) &&
      node.name.getText() === "CONFIG_SCHEMA" &&
      node.initializer &&
      ts.isCallExpression(node.initializer)
    ) {
      const entries = node.initializer.arguments[1];
      if (entries && ts.isObjectLiteralExpression(entries)) visit(entries, "");
    }
    ts.forEachChild(node, visitAll);
  };
  visitAll(source);
  return found;
}

/** The `@default` a key's comment must carry, from the schema. */
function expectedDefault(key: ConfigNode): string | undefined {
  const value = key.children === undefined ? key.defaultValue() : undefined;
  if (value === undefined) return undefined;
  const meta = key.meta;
  if (meta?.productionDefault !== undefined) return `${JSON.stringify(value)}; ${JSON.stringify(meta.productionDefault)} in production`;
  return `${JSON.stringify(value)}${meta?.requiredInProduction ? "; required in production" : ""}`;
}

describe("the doc comments of schema.ts", () => {
  const comments = docComments();

  it("exist for every key and only for keys", () => {
    expect([...comments.keys()]).toEqual(CONFIG_KEYS.map((key) => key.path));
  });

  it.each(CONFIG_KEYS.map((key) => [key.path, key] as const))("%s: description and @default", (path, key) => {
    expect(comments.get(path)).toEqual({ text: key.description, default: expectedDefault(key) });
  });
});
