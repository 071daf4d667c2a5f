/** The conformance suite of the `PresenceBackend` contract. */
import { afterEach, describe, expect, it } from "vitest";
import type { PresenceBackend } from "../presence.js";

/** Options of {@link describePresenceConformance}: how the suite gets a fresh backend and gets rid of it. */
export interface PresenceConformanceOptions {
  /** Returns a fresh, empty backend; called once per test. */
  make: () => PresenceBackend | Promise<PresenceBackend>;
  /** Closes a backend `make` returned and frees what it used (for Redis: its keys); runs after each test. */
  destroy: (backend: PresenceBackend) => Promise<void>;
}

const sorted = (list: string[]): string[] => [...list].sort();

/**
 * Registers a vitest suite (one `describe`) that proves a {@link PresenceBackend} keeps the
 * contract: users per namespace and room without duplicates, a user online until their last
 * socket leaves, re-adding a socket moves it, remove leaves every room, unknown sockets are
 * ignored, namespaces and rooms never mix even when their names share separators, answers
 * stay whole for thousands of users and for a socket in hundreds of rooms, `join`, `leave`
 * and `remove` report a user's first and last socket in a room (what live presence
 * announces), and an idempotent `close` that forgets this instance's entries.
 *
 * @example
 * import { describePresenceConformance } from "@loly-rt/core/testing";
 * import { createMyPresence } from "./my-presence.js";
 *
 * describePresenceConformance("my presence", {
 *   make: () => createMyPresence(),
 *   destroy: (backend) => backend.close(),
 * });
 */
export function describePresenceConformance(name: string, options: PresenceConformanceOptions): void {
  describe(`PresenceBackend contract: ${name}`, () => {
    const open: PresenceBackend[] = [];
    const make = async (): Promise<PresenceBackend> => {
      const backend = await options.make();
      open.push(backend);
      return backend;
    };

    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => options.destroy(b)));
    });
    /** A fresh backend with these sockets added to "/chat" one after the other. */
    const makeWith = async (...sockets: [socketId: string, userId: string][]): Promise<PresenceBackend> => {
      const backend = await make();
      for (const [socketId, userId] of sockets) await backend.add({ namespace: "/chat", socketId, userId });
      return backend;
    };

    it("answers empty for an unknown namespace, room and user", async () => {
      const p = await make();
      expect(await p.users("/none")).toEqual([]);
      expect(await p.users("/none", "room")).toEqual([]);
      expect(await p.socketsOf("/none", "u1")).toEqual([]);
      expect(await p.isOnline("/none", "u1")).toBe(false);
    });

    it("add makes a user online in its namespace only", async () => {
      const p = await makeWith(["s1", "u1"]);
      expect(await p.users("/chat")).toEqual(["u1"]);
      expect(await p.socketsOf("/chat", "u1")).toEqual(["s1"]);
      expect(await p.isOnline("/chat", "u1")).toBe(true);
      expect(await p.users("/other")).toEqual([]);
      expect(await p.isOnline("/other", "u1")).toBe(false);
      expect(await p.socketsOf("/other", "u1")).toEqual([]);
    });

    it("lists a user with two sockets once; remove keeps them online until their last socket", async () => {
      const p = await makeWith(["s1", "u1"], ["s2", "u1"], ["s3", "u2"]);
      expect(sorted(await p.users("/chat"))).toEqual(["u1", "u2"]);
      expect(sorted(await p.socketsOf("/chat", "u1"))).toEqual(["s1", "s2"]);

      await p.remove("/chat", "s1");
      expect(await p.isOnline("/chat", "u1")).toBe(true);
      expect(await p.socketsOf("/chat", "u1")).toEqual(["s2"]);
      expect(sorted(await p.users("/chat"))).toEqual(["u1", "u2"]);

      await p.remove("/chat", "s2");
      expect(await p.isOnline("/chat", "u1")).toBe(false);
      expect(await p.socketsOf("/chat", "u1")).toEqual([]);
      expect(await p.users("/chat")).toEqual(["u2"]);
    });

    it("adding the same socket twice changes nothing; re-adding it for another user moves it", async () => {
      const p = await makeWith(["s1", "u1"], ["s1", "u1"]);
      expect(await p.socketsOf("/chat", "u1")).toEqual(["s1"]);
      await p.add({ namespace: "/chat", socketId: "s1", userId: "u2" });
      expect(await p.users("/chat")).toEqual(["u2"]);
      expect(await p.socketsOf("/chat", "u1")).toEqual([]);
    });

    it("join and leave maintain users(room) without duplicates", async () => {
      const p = await makeWith(["s1", "u1"], ["s2", "u1"], ["s3", "u2"]);
      await p.join("/chat", "s1", "lobby");
      await p.join("/chat", "s2", "lobby");
      await p.join("/chat", "s1", "lobby");
      await p.join("/chat", "s3", "lobby");
      await p.join("/chat", "s3", "vip");
      expect(sorted(await p.users("/chat", "lobby"))).toEqual(["u1", "u2"]);
      expect(await p.users("/chat", "vip")).toEqual(["u2"]);
      expect(await p.users("/chat", "nobody-here")).toEqual([]);

      await p.leave("/chat", "s1", "lobby");
      expect(sorted(await p.users("/chat", "lobby"))).toEqual(["u1", "u2"]);
      await p.leave("/chat", "s2", "lobby");
      expect(await p.users("/chat", "lobby")).toEqual(["u2"]);
      await p.leave("/chat", "s2", "lobby");
      expect(await p.users("/chat", "lobby")).toEqual(["u2"]);
    });

    it("remove drops the socket from all its rooms", async () => {
      const p = await makeWith(["s1", "u1"]);
      await p.join("/chat", "s1", "a");
      await p.join("/chat", "s1", "b");
      await p.remove("/chat", "s1");
      expect(await p.users("/chat", "a")).toEqual([]);
      expect(await p.users("/chat", "b")).toEqual([]);
      expect(await p.users("/chat")).toEqual([]);
    });

    it("join reports a user's first socket in a room; leave and remove their last", async () => {
      const p = await makeWith(["s1", "u1"], ["s2", "u1"], ["s3", "u2"]);
      expect(await p.join("/chat", "s1", "lobby")).toBe(true);
      expect(await p.join("/chat", "s1", "lobby")).toBe(false);
      expect(await p.join("/chat", "s2", "lobby")).toBe(false);
      expect(await p.join("/chat", "s3", "lobby")).toBe(true);
      expect(await p.leave("/chat", "s1", "lobby")).toBe(false);
      expect(await p.leave("/chat", "s1", "lobby")).toBe(false);
      expect(await p.leave("/chat", "s2", "lobby")).toBe(true);
      expect(await p.leave("/chat", "s2", "lobby")).toBe(false);
      expect(await p.join("/chat", "s2", "lobby")).toBe(true);

      await p.join("/chat", "s2", "vip");
      await p.join("/chat", "s1", "vip");
      await p.join("/chat", "s2", "solo");
      // u1 stays in vip through s1: only lobby and solo went with s2.
      expect(sorted(await p.remove("/chat", "s2"))).toEqual(["lobby", "solo"]);
      expect(await p.remove("/chat", "s1")).toEqual(["vip"]);
      expect(await p.remove("/chat", "s3")).toEqual(["lobby"]);
      expect(await p.remove("/chat", "s3")).toEqual([]);
      // Rooms of the same name in another namespace are other rooms.
      await p.add({ namespace: "/other", socketId: "o1", userId: "u1" });
      expect(await p.join("/other", "o1", "lobby")).toBe(true);
    });

    it("ignores remove, join and leave of unknown sockets", async () => {
      const p = await make();
      expect(await p.remove("/chat", "ghost")).toEqual([]);
      expect(await p.join("/chat", "ghost", "lobby")).toBe(false);
      expect(await p.leave("/chat", "ghost", "lobby")).toBe(false);
      expect(await p.users("/chat")).toEqual([]);
      expect(await p.users("/chat", "lobby")).toEqual([]);
    });

    it("keeps namespaces and rooms apart even when their names share separators", async () => {
      const p = await make();
      await p.add({ namespace: "/a", socketId: "s1", userId: "u1" });
      await p.add({ namespace: "/a:b", socketId: "s2", userId: "u2" });
      await p.join("/a", "s1", "b:c");
      await p.join("/a:b", "s2", "c");
      expect(await p.users("/a", "b:c")).toEqual(["u1"]);
      expect(await p.users("/a:b", "c")).toEqual(["u2"]);
      expect(await p.users("/a")).toEqual(["u1"]);
      expect(await p.users("/a:b")).toEqual(["u2"]);
    });

    it("scopes socketsOf and rooms by namespace", async () => {
      const p = await make();
      await p.add({ namespace: "/a", socketId: "s1", userId: "u1" });
      await p.add({ namespace: "/b", socketId: "s2", userId: "u1" });
      await p.join("/a", "s1", "r");
      expect(await p.socketsOf("/a", "u1")).toEqual(["s1"]);
      expect(await p.socketsOf("/b", "u1")).toEqual(["s2"]);
      expect(await p.users("/b", "r")).toEqual([]);
    });

    it("lists thousands of users once each, and a socket in hundreds of rooms leaves them all", async () => {
      const p = await make();
      const n = 2500;
      const ids = Array.from({ length: n }, (_, i) => i);
      await Promise.all(ids.map((i) => p.add({ namespace: "/big", socketId: `s${i}`, userId: `u${i}` })));
      await Promise.all(ids.map((i) => p.join("/big", `s${i}`, i % 2 === 0 ? "even" : "odd")));
      const everyone = await p.users("/big");
      expect(everyone.length).toBe(n);
      expect(new Set(everyone).size).toBe(n);
      expect((await p.users("/big", "even")).length).toBe(n / 2);

      const rooms = Array.from({ length: 300 }, (_, r) => `r${r}`);
      await Promise.all(rooms.map((room) => p.join("/big", "s0", room)));
      expect(await p.users("/big", "r299")).toEqual(["u0"]);
      await p.remove("/big", "s0");
      expect(await p.users("/big", "r0")).toEqual([]);
      expect(await p.users("/big", "r299")).toEqual([]);
      expect(await p.isOnline("/big", "u0")).toBe(false);
      expect((await p.users("/big")).length).toBe(n - 1);
    });

    it("close is idempotent and forgets this instance's entries", async () => {
      const p = await makeWith(["s1", "u1"]);
      await p.close();
      await p.close();
      expect(await p.users("/chat")).toEqual([]);
      expect(await p.isOnline("/chat", "u1")).toBe(false);
    });
  });
}
