import type { ConnectionCounter, PresenceBackend, PresenceEntry } from "@loly-rt/core";
import { CounterModel, PresenceModel } from "./model.js";

const done: Promise<void> = Promise.resolve();
const yes: Promise<boolean> = Promise.resolve(true);
const no: Promise<boolean> = Promise.resolve(false);

/**
 * In-process presence for a single instance: everything lives in maps, answers are
 * immediate and nothing expires (a stopped process takes its presence with it). `join`
 * resolves `true` for a user's first socket in a room, `leave` and `remove` report their last.
 * Use {@link createRedisPresence} when several instances serve one application.
 *
 * @example
 * const presence = createMemoryPresence();
 * await presence.add({ namespace: "/chat", socketId: socket.id, userId: "u1" });
 * await presence.users("/chat"); // ["u1"]
 */
export function createMemoryPresence(): PresenceBackend {
  const model = new PresenceModel();
  return {
    add(entry: PresenceEntry): Promise<void> {
      model.add(entry);
      return done;
    },
    remove(namespace: string, socketId: string): Promise<string[]> {
      return Promise.resolve(model.remove(namespace, socketId));
    },
    join(namespace: string, socketId: string, room: string): Promise<boolean> {
      return model.join(namespace, socketId, room) ? yes : no;
    },
    leave(namespace: string, socketId: string, room: string): Promise<boolean> {
      return model.leave(namespace, socketId, room) ? yes : no;
    },
    users(namespace: string, room?: string): Promise<string[]> {
      return Promise.resolve(model.users(namespace, room));
    },
    socketsOf(namespace: string, userId: string): Promise<string[]> {
      return Promise.resolve(model.socketsOf(namespace, userId));
    },
    isOnline(namespace: string, userId: string): Promise<boolean> {
      return Promise.resolve(model.isOnline(namespace, userId));
    },
    close(): Promise<void> {
      model.clear();
      return done;
    },
  };
}

/**
 * In-process connection counter for `limits.connectionsPerIp` on a single instance.
 * `acquire` and `release` are synchronous.
 *
 * @example
 * const counter = createMemoryConnectionCounter();
 * if (!counter.acquire(ip, 20)) refuse("TOO_MANY_CONNECTIONS");
 * // on disconnect:
 * counter.release(ip);
 */
export function createMemoryConnectionCounter(): ConnectionCounter {
  const model = new CounterModel();
  return {
    acquire(ip: string, limit: number): boolean {
      if (model.get(ip) >= limit) return false;
      model.increment(ip);
      return true;
    },
    release(ip: string): void {
      model.decrement(ip);
    },
    close(): Promise<void> {
      model.clear();
      return done;
    },
  };
}
