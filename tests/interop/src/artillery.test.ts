/**
 * artillery's Socket.IO engine (its socket.io-client 4 under a load-test runner) against a
 * Loly server started in this process: `fixtures/artillery.yml` runs 5 virtual users over 5 s
 * that connect to `/interop` with `auth`, get acks in the `{ ok, data }` envelope (compared
 * whole by artillery) and send an event without an ack. The test reads artillery's JSON
 * report (`--output`): no `errors.*` counter, no failed virtual user, every emit counted.
 * A second, one-second run with another token proves the report would show a mismatch (so a
 * clean report means something) and that `auth` really reaches the route's hook.
 *
 * artillery is run with `npx -y artillery@<pinned>`, not installed as a devDependency: it
 * installs about 460 MB (AWS, Azure and OpenTelemetry SDKs, Playwright) for a tool one test
 * uses, which would weigh on every `pnpm install` of the workspace. The first run on a
 * machine downloads it into npm's cache (about a minute), hence the long timeout; later runs
 * start in seconds. 2.0.21 is the newest release whose `engines` accepts Node 20 (later ones
 * want Node 22). `PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD` keeps the install from fetching a browser
 * (only the Playwright engine needs it).
 *
 * Off the network: with `ARTILLERY_DISABLE_TELEMETRY` set, artillery still sends an anonymous
 * "test run" ping to its telemetry host at the end of a run (by design: its pull request 1767),
 * unless it runs as one of its own cloud workers, which it tells by `WORKER_ID` (`sendTelemetry`
 * in `lib/cmds/run.js` returns at once; nothing else of a local run reads it). So the test sets
 * both: the run only talks to the server on 127.0.0.1 (and does not wait ~12 s for a DNS
 * failure where there is no internet).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../../../packages/server/src/test-helpers.js";
import { appRoute } from "./support/route.js";

const ARTILLERY = "artillery@2.0.21";
const SCRIPT = fileURLToPath(new URL("../fixtures/artillery.yml", import.meta.url));
const INSTALL_AND_RUN_MS = 300_000;
const exec = promisify(execFile);

/** What this test reads of artillery's JSON report. */
interface Report {
  aggregate: {
    counters: Record<string, number>;
    summaries?: Record<string, { count: number; max: number }>;
  };
}

let srv: TestServer;
let tmp = "";

/** Runs the scenario against the server; resolves the report and what artillery printed. */
async function artillery(name: string, extra: string[] = []): Promise<{ report: Report; output: string }> {
  const out = join(tmp, `${name}.json`);
  // Without what pnpm and npm scripts put there for the workspace (npm warns about pnpm's keys).
  const inherited = Object.entries(process.env).filter(([key]) => !/^(npm_|pnpm_)/i.test(key));
  const env = {
    ...Object.fromEntries(inherited),
    ARTILLERY_DISABLE_TELEMETRY: "true",
    WORKER_ID: "loly-interop-test",
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: "1",
    NO_UPDATE_NOTIFIER: "1",
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
    NO_COLOR: "1",
  };
  const args = ["-y", ARTILLERY, "run", "--target", srv.url, "--output", out, ...extra, SCRIPT];
  const { stdout, stderr } = await exec("npx", args, { cwd: tmp, env, timeout: INSTALL_AND_RUN_MS, maxBuffer: 16 * 1024 * 1024 }).catch(
    (err: unknown) => {
      const e = err as Error & { stdout?: string; stderr?: string };
      throw new Error(`npx ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
    },
  );
  const output = `${stdout}\n${stderr}`;
  const report = JSON.parse(await readFile(out, "utf8")) as Report;
  return { report, output };
}

const errorsOf = (counters: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(counters).filter(([key]) => key.startsWith("errors.")));

describe(`${ARTILLERY}, Socket.IO engine`, () => {
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "loly-artillery-"));
    srv = await startServer({ "/interop": appRoute }, { limits: { connectionsPerIp: 1000 } });
  });
  afterAll(async () => {
    await srv?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it(
    "5 virtual users over 5 s: auth, acks in the { ok, data } envelope and a plain emit, without an error",
    async () => {
      const { report, output } = await artillery("clean");
      const { counters, summaries } = report.aggregate;
      expect(errorsOf(counters), output).toEqual({});
      expect(counters["vusers.created"], output).toBe(5);
      expect(counters["vusers.completed"], output).toBe(5);
      expect(counters["vusers.failed"] ?? 0, output).toBe(0);
      // per virtual user: whoami, 3 x add with an ack, 1 x add without
      expect(counters["socketio.emit"], output).toBe(25);
      expect(summaries?.["socketio.response_time"]?.count, output).toBe(25);
      // the server saw no refusal and no handler error
      expect(srv.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
    },
    INSTALL_AND_RUN_MS + 30_000,
  );

  it(
    "the same scenario with another token fails its ack check (auth reaches the hook; the report shows mismatches)",
    async () => {
      const overrides = { config: { phases: [{ duration: 1, arrivalRate: 2 }], socketio: { auth: { token: "someone-else" } } } };
      const { report, output } = await artillery("mismatch", ["--overrides", JSON.stringify(overrides)]);
      const { counters } = report.aggregate;
      // whoami answers { ok: true, data: { id: "someone-else" } }: each virtual user stops there
      expect(errorsOf(counters), output).toEqual({ "errors.data is not valid": 2 });
      expect(counters["vusers.failed"], output).toBe(2);
    },
    INSTALL_AND_RUN_MS + 30_000,
  );
});
