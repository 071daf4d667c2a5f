/**
 * What the chat's browser tests share: Debian's Chromium driven by playwright-core (nothing
 * here downloads a browser), the example's `server.ts` as a child process, and pages that sign
 * in, with the Socket.IO frames each page received (to tell where what it shows came from).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { expect } from "vitest";

export const CHROMIUM = "/usr/bin/chromium";
export const exampleDir = fileURLToPath(new URL("..", import.meta.url));
export const WAIT = { timeout: 6000 };

/** Launches headless Chromium; throws how to install it when it is missing. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing: ${CHROMIUM} does not exist. Install Debian's package with ` +
        "`apt-get update && apt-get install -y chromium` (.ci/run does this when it is missing).",
    );
  }
  return chromium.launch({
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
}

/**
 * Starts `server.ts` with `env` added to this process's (HOST and CHAT_REDIS_URL removed unless
 * given: one process on loopback by default); resolves the URL it prints. Everything it prints
 * goes to `output`.
 */
export function spawnChat(env: Record<string, string>, output: string[]): { proc: ChildProcess; url: Promise<string> } {
  const full: NodeJS.ProcessEnv = { ...process.env, TSX_TSCONFIG_PATH: `${exampleDir}tsconfig.json`, LOG_LEVEL: "warn" };
  delete full.HOST;
  delete full.CHAT_REDIS_URL;
  Object.assign(full, env);
  const proc = spawn(process.execPath, ["--import", "tsx", "server.ts"], { cwd: exampleDir, env: full, stdio: ["ignore", "pipe", "pipe"] });
  let printed = "";
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the chat server did not start:\n${output.join("")}`)), 15_000);
    proc.stdout?.on("data", (d: Buffer) => {
      output.push(d.toString());
      printed += d.toString();
      const m = /Loly chat: open (http:\/\/\S+)/.exec(printed);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the chat server exited with ${signal ?? code}:\n${output.join("")}`));
    });
  });
  return { proc, url };
}

/** The Socket.IO frames each page received over WebSocket, in order. */
const received = new Map<Page, string[]>();

/** The frames `page` received. */
export const framesOf = (page: Page): string[] => received.get(page) ?? [];

/** A `__loly:presence` diff as the server sends it. */
export type Diff = { room: string; joined?: string; left?: string };

/** The `__loly:presence` diffs a page received (`{ room, joined }` / `{ room, left }`), in order. */
export function presenceDiffs(page: Page): Diff[] {
  const diffs: Diff[] = [];
  for (const frame of framesOf(page)) {
    const m = /^42\/chat,(\[.*\])$/.exec(frame);
    if (!m) continue;
    const [event, payload] = JSON.parse(m[1] as string) as [string, Diff];
    if (event === "__loly:presence") diffs.push(payload);
  }
  return diffs;
}

/**
 * Opens the page in its own browser context (viewport: `width` wide) and signs in as `name`.
 * Resolves once the connection is on WebSocket: a page closed while Engine.IO still upgrades
 * from polling leaves the server a session it only drops at the ping timeout (45 s).
 */
export async function signedIn(
  browser: Browser,
  url: string,
  name: string,
  pageErrors: string[],
  output: string[],
  width = 1000,
): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(`${name}: ${err.message}`));
  const frames: string[] = [];
  received.set(page, frames);
  // Engine.IO's upgrade packet ("5"), sent by the client over the new WebSocket.
  const upgraded = new Promise<void>((resolve) => {
    page.on("websocket", (ws) => {
      ws.on("framesent", (frame) => frame.payload === "5" && resolve());
      ws.on("framereceived", (frame) => frames.push(String(frame.payload)));
    });
  });
  await page.goto(url);
  await page.fill("#name", name);
  await page.click("#signin button[type=submit]");
  await statusIs(page, "connected", output);
  // Signed in and in #general once the presence list shows us.
  await page.locator(`#presence li[data-user="${name}"]`).waitFor(WAIT);
  expect(await page.isVisible("#signin")).toBe(false);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    upgraded,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${name}'s connection did not upgrade to WebSocket`)), WAIT.timeout);
    }),
  ]).finally(() => clearTimeout(timer));
  return page;
}

/** Waits until the header's connection state reads exactly `text` (`output`: the servers' output, for the failure). */
export async function statusIs(page: Page, text: string, output: string[], wait = WAIT): Promise<void> {
  try {
    await page.locator('[data-testid="status"]', { hasText: new RegExp(`^${text}$`) }).waitFor(wait);
  } catch (err) {
    const [status, banner] = await Promise.all([page.textContent("#status"), page.textContent("#error-text")]);
    throw new Error(`the status is "${status}", not "${text}" (banner: "${banner}")\nserver output:\n${output.join("")}`, { cause: err });
  }
}

export async function say(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.click("#composer button[type=submit]");
  await page.locator("#messages li.mine", { hasText: text }).waitFor(WAIT);
}

/** The user ids the page's presence list shows, sorted. */
export const presenceOf = (page: Page): Promise<string[]> =>
  page.$$eval("#presence li", (lis) => lis.map((li) => (li as HTMLElement).dataset.user ?? "").sort());
