/** The rooms' history (history.ts) over the server's own state store (the memory one, as `ctx.state` sees it). */
import { createRealtimeServer, type RealtimeServer } from "@loly-rt/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HISTORY_SIZE, historyOf, nextMessageId, remember } from "../history.js";
import type { ChatMessage, Room } from "../protocol.js";

let rt: RealtimeServer;

beforeAll(async () => {
  rt = await createRealtimeServer({ routes: {}, config: { logging: { level: "silent" } } });
});

afterAll(async () => {
  await rt.close();
});

async function say(room: Room, text: string): Promise<ChatMessage> {
  const message: ChatMessage = { id: await nextMessageId(rt.state, room), room, from: "alice", text, at: Date.now() };
  await remember(rt.state, message);
  return message;
}

describe("room history", () => {
  it("is empty for a room nobody wrote in", async () => {
    expect(await historyOf(rt.state, "help")).toEqual([]);
  });

  it(`keeps the last ${HISTORY_SIZE} messages of each room, oldest first`, async () => {
    const sent: ChatMessage[] = [];
    for (let i = 1; i <= HISTORY_SIZE + 12; i++) sent.push(await say("general", `general ${i}`));
    await say("random", "random 1");

    const history = await historyOf(rt.state, "general");
    expect(history).toHaveLength(HISTORY_SIZE);
    expect(history).toEqual(sent.slice(-HISTORY_SIZE));
    expect(history[0]!.text).toBe("general 13");
    expect(history.at(-1)!.text).toBe(`general ${HISTORY_SIZE + 12}`);
    expect((await historyOf(rt.state, "random")).map((m) => m.text)).toEqual(["random 1"]);
  });

  it("skips a message whose id was taken but which is not stored yet, and what is not a message", async () => {
    const before = await historyOf(rt.state, "random");
    // An id taken by a message still on its way: its slot is empty (or holds an older one).
    await nextMessageId(rt.state, "random");
    const later = await say("random", "after the slow one");
    expect(await historyOf(rt.state, "random")).toEqual([...before, later]);

    // Something else under a slot's key is not given out as a message.
    await rt.state.set(`chat:random:message:${(later.id + 1) % HISTORY_SIZE}`, { id: "x", text: 42 });
    await rt.state.incr("chat:random:last-id");
    expect(await historyOf(rt.state, "random")).toEqual([...before, later]);
  });
});
