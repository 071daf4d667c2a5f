/**
 * The docs cannot drift from the code: the configuration table, the migration messages, the
 * error codes, metric names and redacted paths, the example files and the links of docs/*.md
 * are checked against what the packages really do.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { CLIENT_ERROR_CODES, CONNECT_ERROR_CODES, STARTUP_ERROR_CODES } from "@loly-rt/core";
import { LOCAL_ERROR_CODES } from "@loly-rt/client";
import { extractConfigTable, renderConfigTable, CONFIG_DOC } from "../../../docs/scripts/gen-config.js";
import { describeConfig } from "./config/index.js";
import { loadRoutesDir } from "./routes/load.js";
import { REDACT_PATHS } from "./logging.js";
import { createServerMetrics } from "./metrics.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const DOCS = join(ROOT, "docs");
const EXAMPLES = join(DOCS, "examples");
/** Written by someone else; its links are its own. */
const NOT_OURS = new Set(["benchmarks.md"]);

const read = (file: string): string => readFileSync(join(DOCS, file), "utf8");
const docPages = (): string[] => readdirSync(DOCS).filter((f) => f.endsWith(".md") && !NOT_OURS.has(f));
/** `name` written as inline code. */
const code = (name: string): string => `\`${name}\``;

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** Loads a one-file routes directory and returns the start-up error's message. */
async function loaderMessage(source: string): Promise<{ message: string; file: string }> {
  const dir = mkdtempSync(join(tmpdir(), "loly-docs-"));
  temps.push(dir);
  mkdirSync(join(dir, "chat"));
  const file = join(dir, "chat", "events.mjs");
  writeFileSync(file, source);
  const error = await loadRoutesDir(dir).then(
    () => {
      throw new Error("expected the loader to refuse the file");
    },
    (err: unknown) => err as Error,
  );
  return { message: error.message, file };
}

describe("docs/configuration.md", () => {
  it("holds the table describeConfig() generates (run `npx tsx docs/scripts/gen-config.ts` to update it)", () => {
    const doc = readFileSync(CONFIG_DOC, "utf8");
    const table = extractConfigTable(doc);
    expect(table, "the config-table markers are missing").not.toBeNull();
    expect(table, "docs/configuration.md is out of date: run `npx tsx docs/scripts/gen-config.ts`").toBe(renderConfigTable());
  });

  it("has one row per configuration key", () => {
    const rows = (extractConfigTable(readFileSync(CONFIG_DOC, "utf8")) ?? "").split("\n").slice(2);
    expect(rows.map((row) => /^\| `([^`]+)`/.exec(row)?.[1])).toEqual(describeConfig().map((k) => k.path));
  });
});

describe("docs/migration.md", () => {
  const SHOWN_FILE = "/srv/app/app/wss/chat/events.ts";

  it("quotes the loader's legacy-format error verbatim", async () => {
    const { message, file } = await loaderMessage('export const events = [{ name: "message", handler: () => {} }];\n');
    expect(message.startsWith("BREAKING CHANGE:")).toBe(true);
    expect(read("migration.md")).toContain(message.replace(file, SHOWN_FILE));
  });

  it("quotes the loader's missing-default-export error verbatim", async () => {
    const { message, file } = await loaderMessage("export const notARoute = 1;\n");
    expect(message).toContain("WSS route must export default from defineWssRoute()");
    expect(read("migration.md")).toContain(message.replace(file, SHOWN_FILE));
  });
});

describe("docs/api.md", () => {
  it("lists every error code", () => {
    const api = read("api.md");
    for (const c of [...CLIENT_ERROR_CODES, ...CONNECT_ERROR_CODES, ...STARTUP_ERROR_CODES, ...LOCAL_ERROR_CODES]) {
      expect(api, `missing error code ${c}`).toContain(code(c));
    }
  });

  it("lists every built-in metric", async () => {
    const api = read("api.md");
    const names = (await createServerMetrics().registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(api, `missing metric ${name}`).toContain(code(name));
  });
});

describe("docs/security.md", () => {
  it("lists every redacted log path", () => {
    const security = read("security.md");
    for (const path of REDACT_PATHS) expect(security, `missing redact path ${path}`).toContain(code(path));
  });
});

describe("docs examples", () => {
  const MARKER = /<!-- example: (\S+) -->\n```ts\n([\s\S]*?)```/g;

  it("show the example files exactly (the files the type check below covers)", () => {
    let count = 0;
    for (const page of docPages()) {
      for (const [, name, body] of read(page).matchAll(MARKER)) {
        count++;
        const file = join(EXAMPLES, name as string);
        expect(existsSync(file), `${page}: docs/examples/${name} does not exist`).toBe(true);
        expect(body, `${page}: the sample differs from docs/examples/${name}`).toBe(readFileSync(file, "utf8"));
      }
    }
    expect(count).toBeGreaterThanOrEqual(9);
  });

  it("type-check against the real packages", async () => {
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const result = await new Promise<{ code: number; output: string }>((done) => {
      execFile(process.execPath, [tsc, "-p", join(EXAMPLES, "tsconfig.json"), "--noEmit"], { cwd: ROOT }, (err, stdout, stderr) => {
        done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
      });
    });
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  }, 120_000);
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of markdown.replace(/```[\s\S]*?```/g, "").split("\n")) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const text = (heading[1] as string).replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
    const base = text
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

function withoutCode(markdown: string): string {
  return markdown.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
}

describe("docs links", () => {
  it("every relative link points to an existing file and heading", () => {
    const broken: string[] = [];
    for (const page of docPages()) {
      const from = join(DOCS, page);
      for (const [, target] of withoutCode(read(page)).matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = target as string;
        if (/^[a-z]+:/i.test(link)) continue;
        const [path, anchor] = link.split("#") as [string, string | undefined];
        const file = path === "" ? from : resolve(dirname(from), path);
        if (!existsSync(file)) {
          broken.push(`${page}: ${link} (no such file)`);
          continue;
        }
        if (anchor && file.endsWith(".md") && !anchorsOf(readFileSync(file, "utf8")).has(anchor)) {
          broken.push(`${page}: ${link} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
