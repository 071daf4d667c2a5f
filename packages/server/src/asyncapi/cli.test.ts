import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, USAGE } from "./cli.js";
import { createAsyncApiDocument } from "./index.js";

const fixtures = (name: string): string => fileURLToPath(new URL(`../../test-fixtures/${name}`, import.meta.url));
const tmp = await mkdtemp(join(tmpdir(), "loly-cli-"));
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

describe("loly-rt asyncapi", () => {
  it("writes the routes folder's document to stdout", async () => {
    const { code, out, err } = await run("asyncapi", fixtures("valid"), "--title", "Fixtures", "--api-version", "3.2.1");
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out.endsWith("}\n")).toBe(true);
    expect(JSON.parse(out)).toEqual(await createAsyncApiDocument({ routesDir: fixtures("valid"), title: "Fixtures", version: "3.2.1" }));
    expect(Object.keys(JSON.parse(out).channels)).toEqual(["root", "chat", "rooms_id"]);
  });

  it("writes to -o, with the host, protocol and configuration given", async () => {
    const config = join(tmp, "config.json");
    await writeFile(config, JSON.stringify({ path: "/rt", limits: { eventsPerSecond: 5, burst: 5 } }));
    const file = join(tmp, "doc.json");
    const { code, out } = await run(
      "asyncapi",
      fixtures("valid"),
      "-o",
      file,
      "--host=chat.example.com",
      "--protocol",
      "wss",
      "--config",
      config,
    );
    expect(code).toBe(0);
    expect(out).toBe("");
    const doc = JSON.parse(await readFile(file, "utf8"));
    expect(doc.servers.realtime).toMatchObject({ host: "chat.example.com", protocol: "wss", pathname: "/rt" });
    expect(doc.servers.realtime["x-loly-rate-limit"]).toEqual({ eventsPerSecond: 5, burst: 5, scope: "socket" });
  });

  it("fails with 1 and the reason when the routes cannot be loaded", async () => {
    const { code, out, err } = await run("asyncapi", fixtures("syntax-error"));
    expect(code).toBe(1);
    expect(out).toBe("");
    expect(err).toMatch(/^loly-rt asyncapi: .*events\.ts/);
    const missing = await run("asyncapi", join(tmp, "nope"));
    expect(missing.code).toBe(1);
    const badConfig = join(tmp, "bad.json");
    await writeFile(badConfig, JSON.stringify({ limits: { burst: 0 } }));
    const refused = await run("asyncapi", fixtures("valid"), "--config", badConfig);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("limits.burst");
  });

  it("fails with 2 and the usage on a usage error", async () => {
    for (const args of [
      [],
      ["asyncapi"],
      ["docs", "x"],
      ["asyncapi", "a", "b"],
      ["asyncapi", "x", "--nope"],
      ["asyncapi", "x", "-o"],
      ["asyncapi", "x", "--protocol", "http"],
    ]) {
      const { code, out, err } = await run(...args);
      expect(code, args.join(" ")).toBe(2);
      expect(out).toBe("");
      expect(err.length).toBeGreaterThan(0);
    }
    expect(await run("--help")).toEqual({ code: 0, out: USAGE, err: "" });
    expect(await run("asyncapi", "-h")).toEqual({ code: 0, out: USAGE, err: "" });
  });
});
