import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, testPrefix, testRedis } from "../../../../tests/setup/redis.js";
import type { RedisScriptClient } from "./client.js";
import { evalOnNoScript, isNoScriptError, luaScript, runScript } from "./script.js";

const prefix = testPrefix("core-redis-script");
let redis: Redis;

beforeAll(() => {
  redis = testRedis();
});

afterAll(async () => {
  await deleteKeys(prefix, redis);
  redis.disconnect();
});

/** A script this Redis has never seen (its source is unique), so its first EVALSHA is NOSCRIPT. */
const fresh = (body: string, numKeys = 0) => luaScript(`-- ${randomBytes(8).toString("hex")}\n${body}`, numKeys);

/** The commands sent through `redis`, by name. */
function recording(client: Redis): { client: RedisScriptClient; sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    client: {
      evalsha: (...args) => {
        sent.push("evalsha");
        return client.evalsha(...args);
      },
      eval: (...args) => {
        sent.push("eval");
        return client.eval(...args);
      },
    },
  };
}

describe("luaScript", () => {
  it("carries the SHA1 Redis computes for the source", async () => {
    const s = fresh("return 1");
    expect(await redis.script("LOAD", s.source)).toBe(s.sha);
  });
});

describe("runScript", () => {
  it("falls back to EVAL once on NOSCRIPT, tells onFallback, and then runs by SHA", async () => {
    const s = fresh("return redis.call('INCRBY', KEYS[1], ARGV[1])", 1);
    const { client, sent } = recording(redis);
    let fallbacks = 0;
    const options = { onFallback: () => void fallbacks++, parse: (reply: unknown) => Number(reply) };
    expect(await runScript(client, s, [`${prefix}n`, 2], options)).toBe(2);
    expect(sent).toEqual(["evalsha", "eval"]);
    expect(fallbacks).toBe(1);
    expect(await runScript(client, s, [`${prefix}n`, 3], options)).toBe(5);
    expect(sent).toEqual(["evalsha", "eval", "evalsha"]);
    expect(fallbacks).toBe(1);
  });

  it("answers the raw reply without parse", async () => {
    const s = fresh("return {ARGV[1], 7}");
    expect(await runScript(redis, s, ["x"])).toEqual(["x", 7]);
  });

  it("rejects with Redis's error for anything but NOSCRIPT, without a fallback", async () => {
    const s = fresh("return redis.call('GET', KEYS[1])", 1);
    await redis.sadd(`${prefix}set`, "m");
    const { client, sent } = recording(redis);
    let fallbacks = 0;
    await expect(runScript(client, s, [`${prefix}set`], { onFallback: () => void fallbacks++ })).rejects.toThrow(/WRONGTYPE/);
    // The first try was NOSCRIPT (a fresh script); the EVAL it fell back to failed on its own.
    expect(sent).toEqual(["evalsha", "eval"]);
    await expect(runScript(client, s, [`${prefix}set`])).rejects.toThrow(/WRONGTYPE/);
    expect(sent).toEqual(["evalsha", "eval", "evalsha"]);
    expect(fallbacks).toBe(1);
  });
});

describe("evalOnNoScript", () => {
  it("throws any other error again, as the rejection handler it is meant to be", () => {
    const err = new Error("ERR something else");
    expect(() => evalOnNoScript(err, redis, fresh("return 1"), [])).toThrow(err);
  });

  it("sends EVAL and parses its reply on NOSCRIPT", async () => {
    const s = fresh("return ARGV[1] + 1");
    const noscript = await redis.evalsha(s.sha, 0, 41).catch((e: unknown) => e);
    expect(isNoScriptError(noscript)).toBe(true);
    expect(await evalOnNoScript(noscript, redis, s, [41], { parse: (r) => Number(r) * 10 })).toBe(420);
  });
});

describe("isNoScriptError", () => {
  it("recognises Redis's NOSCRIPT reply only", () => {
    expect(isNoScriptError(new Error("NOSCRIPT No matching script. Please use EVAL."))).toBe(true);
    expect(isNoScriptError(new Error("ERR NOSCRIPT"))).toBe(false);
    expect(isNoScriptError("NOSCRIPT")).toBe(false);
  });
});
