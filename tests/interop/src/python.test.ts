/**
 * python-socketio (Debian's `python3-socketio`), sync `socketio.Client` and asyncio
 * `socketio.AsyncClient`, each over polling only and websocket only, against a Loly server
 * with its defaults (recovery on): connect with auth, `call()` with the `{ ok, data }` ack,
 * BAD_PAYLOAD with issues, `__loly:error` for events sent without an ack, a room broadcast,
 * bytes both ways, a refused token. `fixtures/python_client.py` does the steps and prints what
 * it got; the assertions are here.
 *
 * Python is found with the Debian packages importable (`/usr/bin/python3` first: a pyenv or
 * venv `python3` on the PATH does not see them). When they are missing and this runs as root
 * with apt-get, they are installed (what `.ci/run` does before the suite); when apt is not
 * usable the suite is skipped with the reason printed; when apt fails, the suite fails.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../../../packages/server/src/test-helpers.js";
import { appRoute } from "./support/route.js";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("../fixtures/python_client.py", import.meta.url));
const MODULES = "socketio, engineio, websocket, aiohttp, requests";
const APT_PACKAGES = ["python3-socketio", "python3-websocket", "python3-aiohttp", "python3-requests"];
const CANDIDATES = ["/usr/bin/python3", "python3"];

async function succeeds(file: string, args: string[], timeoutMs = 20_000): Promise<boolean> {
  try {
    await run(file, args, { timeout: timeoutMs });
    return true;
  } catch {
    return false;
  }
}

async function findPython(): Promise<string | null> {
  for (const bin of CANDIDATES) if (await succeeds(bin, ["-c", `import ${MODULES}`])) return bin;
  return null;
}

/** Why apt cannot install the packages here, or null when it can. */
async function aptUnusable(): Promise<string | null> {
  if (process.platform !== "linux" || typeof process.getuid !== "function") return `not Linux (${process.platform})`;
  if (!(await succeeds("apt-get", ["--version"]))) return "apt-get is not available";
  if (process.getuid() !== 0) return `not running as root (uid ${process.getuid()}), apt-get cannot install`;
  return null;
}

async function aptInstall(): Promise<string> {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => run("apt-get", ["install", "-y", "-qq", ...APT_PACKAGES], { env, timeout: 300_000 });
  try {
    await install();
  } catch {
    await run("apt-get", ["update", "-qq"], { env, timeout: 300_000 });
    await install();
  }
  return `installed ${APT_PACKAGES.join(" ")} with apt-get`;
}

type Setup = { python: string; versions: Record<string, string>; note: string } | { skip: string } | { error: string };

async function setup(): Promise<Setup> {
  let python = await findPython();
  let note = "found";
  if (python === null) {
    const unusable = await aptUnusable();
    if (unusable !== null) return { skip: `python-socketio is not importable (${CANDIDATES.join(", ")}) and ${unusable}` };
    try {
      note = await aptInstall();
    } catch (err) {
      return { error: `python-socketio is missing and apt-get failed: ${(err as Error).message}` };
    }
    python = await findPython();
    if (python === null) return { error: `apt-get installed ${APT_PACKAGES.join(" ")} but no ${CANDIDATES.join(" / ")} imports them` };
  }
  const { stdout } = await run(python, [
    "-c",
    'import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in ["python-socketio", "python-engineio", "websocket-client", "aiohttp"]} | {"python": sys.version.split()[0]}))',
  ]);
  return { python, versions: JSON.parse(stdout) as Record<string, string>, note };
}

const found = await setup();
if ("skip" in found) console.log(`python interop suite skipped: ${found.skip}`);
else if ("python" in found)
  console.log(
    `python interop: ${found.python} (Python ${found.versions.python}), python-socketio ${found.versions["python-socketio"]}, python-engineio ${found.versions["python-engineio"]}, websocket-client ${found.versions["websocket-client"]}, aiohttp ${found.versions.aiohttp} (${found.note})`,
  );
const title = "python" in found ? `python-socketio ${found.versions["python-socketio"]}` : "python-socketio";

/** Runs `fixtures/python_client.py` and resolves its `results`. */
// biome-ignore lint/suspicious/noExplicitAny: whatever python-socketio received
async function runClient(url: string, mode: string, transport: string, ...extra: string[]): Promise<any> {
  const python = (found as { python: string }).python;
  const { stdout, stderr } = await run(python, [SCRIPT, url, mode, transport, ...extra], { timeout: 30_000 }).catch((err: unknown) => {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`python_client.py ${mode} ${transport} ${extra.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  });
  try {
    return (JSON.parse(stdout.trim().split("\n").pop() ?? "") as { results: unknown }).results;
  } catch {
    throw new Error(`python_client.py printed no result:\n${stdout}\n${stderr}`);
  }
}

const hex = (bytes: Iterable<number>): { $bytes: string } => ({ $bytes: Buffer.from([...bytes]).toString("hex") });

describe.skipIf("skip" in found)(title, () => {
  let srv: TestServer;
  beforeAll(async () => {
    // apt was usable but python-socketio could not be installed: every test fails with why
    if ("error" in found) throw new Error(found.error);
    srv = await startServer({ "/interop": appRoute }, { limits: { connectionsPerIp: 1000 } });
  });
  afterAll(async () => {
    await srv?.close();
  });

  describe.each([["sync"], ["async"]])("%s client", (mode) => {
    it.each([["polling"], ["websocket"]])(
      "over %s: auth, call, BAD_PAYLOAD, __loly:error without ack, room broadcast, bytes both ways, refusal",
      async (transport) => {
        const r = await runClient(srv.url, mode, transport);
        expect(r.transport).toBe(transport);
        expect(r.whoami).toEqual({ ok: true, data: { id: "py-a" } });
        expect(r.add).toEqual({ ok: true, data: 5 });

        // a refusal answers the ack and emits __loly:error
        expect(r.badPayloadAck).toEqual({
          ok: false,
          error: { code: "BAD_PAYLOAD", message: "Invalid payload", details: { issues: [{ path: "a", message: expect.any(String) }] } },
        });
        // events carry the recovery offset as an extra, last argument (recovery is on by default)
        expect(r.badPayloadError).toEqual([
          expect.objectContaining({ code: "BAD_PAYLOAD", event: "add", requestId: expect.any(String) }),
          expect.any(String),
        ]);
        expect(r.failError[0]).toMatchObject({ code: "INTERNAL", message: "boom", event: "fail" });
        expect(r.unknownError[0]).toMatchObject({ code: "UNKNOWN_EVENT", message: 'Unknown event "nope"', event: "nope" });

        expect(r.join).toEqual({ ok: true });
        expect(r.shout).toEqual({ ok: true });
        expect(r.shouted).toEqual([{ text: "hi from python", from: "py-a" }, expect.any(String)]);

        expect(r.bytes).toEqual({ ok: true, data: hex([255, 254, 128, 127, 2, 1, 0]) });
        const all = Array.from({ length: 256 }, (_, i) => i);
        expect(r.file).toEqual({ ok: true, data: { name: "a.bin", size: 256, body: hex(all.reverse()) } });
        expect(r.pushed[0]).toEqual({ bytes: hex(Buffer.alloc(16, 7)) });
        expect(r.badBytes.error).toMatchObject({ code: "BAD_PAYLOAD", details: { issues: [{ path: "" }] } });

        // a fresh socket is sent its starting offset (python-socketio has no recovery: it just receives it)
        expect(r.otherEvents).toContainEqual(["__loly:offset", 1]);

        expect(r.refused).toEqual({
          connected: false,
          error: "One or more namespaces failed to connect",
          connectError: [[{ message: "UNAUTHORIZED", data: { code: "UNAUTHORIZED" } }]],
        });
      },
    );
  });

  /*
   * Loly turns Socket.IO's connection-state recovery on by default, and with it every event
   * sent to a client carries its offset as an extra, last argument (`reply` and `__loly:error`
   * included). socket.io-client ignores it; python-socketio calls `handler(*args)`, so a
   * handler written with one parameter, as its documentation writes them, raises TypeError
   * and the event is lost. The first test pins that loss (such handlers get nothing; acks,
   * which carry no offset, work) until the server stops adding the offset for clients that do
   * not recover; with `recovery: false` they get everything (the second).
   */
  describe("handlers with one parameter", () => {
    let off: TestServer;
    beforeAll(async () => {
      off = await startServer({ "/interop": appRoute }, { recovery: false, limits: { connectionsPerIp: 1000 } });
    });
    afterAll(async () => {
      await off?.close();
    });
    const expected = {
      pushed: [{ bytes: hex(Buffer.alloc(4, 7)) }],
      errors: [expect.objectContaining({ code: "UNKNOWN_EVENT", event: "nope" })],
      after: { ok: true, data: 2 },
    };

    it("with Loly's defaults (recovery on) they get nothing: KNOWN ISSUE, the offset argument makes them raise TypeError", async () => {
      // What is pinned here is the loss itself; when it is fixed, this test fails and should become the one below.
      expect(await runClient(srv.url, "sync", "websocket", "one-arg")).toEqual({ ...expected, pushed: [], errors: [] });
    });

    it("receive events with recovery: false", async () => {
      expect(await runClient(off.url, "sync", "websocket", "one-arg")).toEqual(expected);
    });
  });
});
