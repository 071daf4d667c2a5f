/**
 * End-to-end: the chat example's own server (a child process, as `pnpm start` runs it) and two
 * pages in headless Chromium (Debian's `chromium`, driven by playwright-core; nothing here
 * downloads a browser). Both sign in, see each other in presence, chat, and one gets the
 * BAD_PAYLOAD banner for a message over the limit.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_MESSAGE_LENGTH } from "../protocol.js";

const CHROMIUM = "/usr/bin/chromium";
const exampleDir = fileURLToPath(new URL("..", import.meta.url));
const WAIT = { timeout: 6000 };

let server: ChildProcess | undefined;
let browser: Browser | undefined;
const output: string[] = [];

/** Starts `server.ts` on a free port (PORT=0); resolves the URL it prints. */
function startServer(): Promise<string> {
  const proc = spawn(process.execPath, ["--import", "tsx", "server.ts"], {
    cwd: exampleDir,
    env: { ...process.env, PORT: "0", TSX_TSCONFIG_PATH: `${exampleDir}tsconfig.json`, LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server = proc;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the chat server did not start:\n${output.join("")}`)), 15_000);
    proc.stdout?.on("data", (d: Buffer) => {
      output.push(d.toString());
      const m = /Loly chat: open (http:\/\/localhost:\d+)/.exec(output.join(""));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the chat server exited with ${code}:\n${output.join("")}`));
    });
  });
}

async function stopServer(): Promise<void> {
  const proc = server;
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Opens the page in its own browser context and signs in as `name`. */
async function signedIn(url: string, name: string, pageErrors: string[]): Promise<Page> {
  const context = await browser!.newContext();
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(`${name}: ${err.message}`));
  await page.goto(url);
  await page.fill("#name", name);
  await page.click("#signin button[type=submit]");
  await page.locator('[data-testid="status"]', { hasText: "connected" }).waitFor(WAIT);
  // Signed in and in #general once the presence list shows us.
  await page.locator(`#presence li[data-user="${name}"]`).waitFor(WAIT);
  expect(await page.isVisible("#signin")).toBe(false);
  return page;
}

const presenceOf = (page: Page): Promise<string[]> =>
  page.$$eval("#presence li", (lis) => lis.map((li) => (li as HTMLElement).dataset.user ?? "").sort());

describe("examples/chat in a real browser", () => {
  let url: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is missing: ${CHROMIUM} does not exist. Install Debian's package with ` +
          "`apt-get update && apt-get install -y chromium` (.ci/run does this when it is missing).",
      );
    }
    url = await startServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await stopServer();
  });

  it("two people sign in, see each other, chat, and get BAD_PAYLOAD for a long message", { timeout: 20_000 }, async () => {
    const pageErrors: string[] = [];
    const alice = await signedIn(url, "alice", pageErrors);
    const bob = await signedIn(url, "bob", pageErrors);

    // Presence: both pages list both people in #general.
    await alice.locator('#presence li[data-user="bob"]').waitFor(WAIT);
    expect(await presenceOf(alice)).toEqual(["alice", "bob"]);
    expect(await presenceOf(bob)).toEqual(["alice", "bob"]);

    // A message from alice reaches bob (and alice).
    await alice.fill("#text", "hello bob");
    await alice.click("#composer button[type=submit]");
    const onBob = bob.locator("#messages li", { hasText: "hello bob" });
    await onBob.waitFor(WAIT);
    expect(await onBob.locator(".from").textContent()).toBe("alice");
    await alice.locator("#messages li.mine", { hasText: "hello bob" }).waitFor(WAIT);
    expect(await alice.inputValue("#text")).toBe("");

    // One character over the limit: refused by the schema, shown in bob's banner, not delivered.
    const tooLong = "x".repeat(MAX_MESSAGE_LENGTH + 1);
    const banner = bob.locator('[data-testid="error"]');
    expect(await banner.isVisible()).toBe(false);
    await bob.fill("#text", tooLong);
    await bob.click("#composer button[type=submit]");
    await banner.waitFor({ state: "visible", ...WAIT });
    const bannerText = await banner.textContent();
    expect(bannerText).toContain("BAD_PAYLOAD");
    expect(bannerText).toContain(`at most ${MAX_MESSAGE_LENGTH} characters`);
    expect(await bob.inputValue("#text")).toBe(tooLong);
    // bob can still chat after the refusal; alice never saw the long one.
    await bob.fill("#text", "sorry, hi alice");
    await bob.click("#composer button[type=submit]");
    await alice.locator("#messages li", { hasText: "sorry, hi alice" }).waitFor(WAIT);
    expect(await alice.locator("#messages li", { hasText: "xxxxxxxxxx" }).count()).toBe(0);

    // alice switches rooms: she leaves bob's list, then comes back.
    await alice.selectOption("#room", "random");
    await alice.locator("#room-name", { hasText: "random" }).waitFor(WAIT);
    await bob.waitForFunction(() => !document.querySelector('#presence li[data-user="alice"]'), undefined, WAIT);
    // each page gets its room's list pushed on its own: wait for alice's too
    await alice.waitForFunction(() => !document.querySelector('#presence li[data-user="bob"]'), undefined, WAIT);
    expect(await presenceOf(alice)).toEqual(["alice"]);
    expect(await presenceOf(bob)).toEqual(["bob"]);
    await alice.selectOption("#room", "general");
    await bob.locator('#presence li[data-user="alice"]').waitFor(WAIT);
    await alice.locator('#presence li[data-user="bob"]').waitFor(WAIT);
    expect(await presenceOf(alice)).toEqual(["alice", "bob"]);

    // bob closes his page: alice's presence list drops him.
    await bob.context().close();
    await alice.waitForFunction(() => !document.querySelector('#presence li[data-user="bob"]'), undefined, WAIT);
    expect(await presenceOf(alice)).toEqual(["alice"]);

    expect(pageErrors).toEqual([]);
  });
});
