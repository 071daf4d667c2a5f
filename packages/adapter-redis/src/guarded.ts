import type { Redis } from "ioredis";
import type { PublishHooks } from "./freshness.js";

/** Client methods the adapter calls without handling their promise. */
const FIRE_AND_FORGET = new Set([
  "publish",
  "spublish",
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
]);
const PUBLISH = new Set(["publish", "spublish"]);

/**
 * The client as the adapter sees it: fire-and-forget commands report their rejection to
 * `report` (the adapter ignores their promises, which would otherwise become unhandled
 * rejections when Redis is away); with `publishes`, every publish is also counted out and back
 * (what tells a hung Redis) and a failed one goes to `publishes.failed` instead. Everything else
 * is the client itself.
 */
export function guarded(client: Redis, report: (err: unknown) => void, publishes?: PublishHooks): Redis {
  const wrappers = new Map<string, (...args: unknown[]) => unknown>();
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (typeof prop !== "string" || !FIRE_AND_FORGET.has(prop)) return Reflect.get(target, prop, receiver);
      let wrapper = wrappers.get(prop);
      if (!wrapper) {
        const method = Reflect.get(target, prop, target) as (...args: unknown[]) => unknown;
        const hooks = publishes && PUBLISH.has(prop) ? publishes : undefined;
        wrapper = hooks
          ? (...args: unknown[]): unknown => {
              const result = method.apply(target, args);
              if (result instanceof Promise) {
                hooks.sent();
                result.then(hooks.answered, hooks.failed);
              }
              return result;
            }
          : (...args: unknown[]): unknown => {
              const result = method.apply(target, args);
              if (result instanceof Promise) result.catch(report);
              return result;
            };
        wrappers.set(prop, wrapper);
      }
      return wrapper;
    },
  });
}
