/**
 * End-to-end, two instances: the chat's `server.ts` twice (two OS processes, CHAT_REDIS_URL:
 * one cluster over the test Redis, a prefix of this run's own), alice's page on one, bob's on
 * the other. Each sees the other arrive and their messages, from the server's `__loly:presence`
 * alone; when bob's instance is SIGKILLed (no goodbye from it: the process is gone), alice's
 * list drops him within `presence.ttlMs`.
 */
import type { ChildProcess } from "node:child_process";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, redisUrl, testPrefix } from "../../../tests/setup/redis.js";
import { launchChromium, presenceDiffs, presenceOf, say, signedIn, spawnChat, statusIs, WAIT } from "./pages.js";

const SECRET = "chat-cluster-e2e-secret";
const PRESENCE_TTL_MS = 2000;
const prefix = testPrefix("chat-cluster");
const output: string[] = [];
const procs: ChildProcess[] = [];
let browser: Browser | undefined;

async function startInstance(): Promise<{ proc: ChildProcess; url: string }> {
  const started = spawnChat(
    { PORT: "0", CHAT_SECRET: SECRET, CHAT_REDIS_URL: redisUrl(), CHAT_PREFIX: prefix, PRESENCE_TTL_MS: String(PRESENCE_TTL_MS) },
    output,
  );
  procs.push(started.proc);
  return { proc: started.proc, url: await started.url };
}

/** SIGKILLs an instance; resolves when it is gone. */
async function sigkill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.kill("SIGKILL");
  await exited;
}

const gone = (page: Page, user: string, timeout: number): Promise<unknown> =>
  page.waitForFunction((u) => !document.querySelector(`#presence li[data-user="${u}"]`), user, { timeout });

describe("examples/chat on two instances, in a real browser", () => {
  let a: { proc: ChildProcess; url: string };
  let b: { proc: ChildProcess; url: string };

  beforeAll(async () => {
    browser = await launchChromium();
    [a, b] = await Promise.all([startInstance(), startInstance()]);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(procs.map(sigkill));
    await deleteKeys(prefix);
  });

  it("people on two instances see each other from __loly:presence; a SIGKILLed instance's user leaves within presence.ttlMs", {
    timeout: 40_000,
  }, async () => {
    const pageErrors: string[] = [];
    const alice = await signedIn(browser!, a.url, "alice", pageErrors, output);
    const bob = await signedIn(browser!, b.url, "bob", pageErrors, output);

    // Across instances: each list shows both, from the server's diffs.
    await alice.locator('#presence li[data-user="bob"]').waitFor(WAIT);
    await bob.locator('#presence li[data-user="alice"]').waitFor(WAIT);
    expect(await presenceOf(alice)).toEqual(["alice", "bob"]);
    expect(await presenceOf(bob)).toEqual(["alice", "bob"]);
    expect(presenceDiffs(alice)).toContainEqual({ room: "general", joined: "bob" });
    await say(alice, "hello from instance a");
    await bob.locator("#messages li", { hasText: "hello from instance a" }).waitFor(WAIT);

    // bob switches rooms and back: alice hears him leave and come back, once each.
    await bob.selectOption("#room", "random");
    await gone(alice, "bob", WAIT.timeout);
    await bob.selectOption("#room", "general");
    await alice.locator('#presence li[data-user="bob"]').waitFor(WAIT);
    expect(presenceDiffs(alice).filter((d) => d.joined === "bob" || d.left === "bob")).toEqual([
      { room: "general", joined: "bob" },
      { room: "general", left: "bob" },
      { room: "general", joined: "bob" },
    ]);

    // bob's instance dies without a word: his page loses its connection, and alice's list
    // drops him once the survivor drops the dead instance (its deadline: presence.ttlMs).
    const killedAt = Date.now();
    await sigkill(b.proc);
    await statusIs(bob, "reconnecting…", output);
    expect(await presenceOf(alice)).toEqual(["alice", "bob"]);
    await gone(alice, "bob", PRESENCE_TTL_MS + 3000);
    const took = Date.now() - killedAt;
    console.log(`[chat cluster] bob left alice's list ${took} ms after his instance was SIGKILLed (presence.ttlMs ${PRESENCE_TTL_MS})`);
    expect(took).toBeLessThanOrEqual(PRESENCE_TTL_MS + 1000);
    expect(presenceDiffs(alice).at(-1)).toEqual({ room: "general", left: "bob" });
    expect(presenceDiffs(alice).filter((d) => d.left === "bob").length).toBe(2);
    expect(await presenceOf(alice)).toEqual(["alice"]);

    // alice's own connection never dropped, and she can still chat.
    await statusIs(alice, "connected", output);
    await say(alice, "still here");

    await bob.context().close();
    await alice.context().close();
    expect(pageErrors).toEqual([]);
  });
});
