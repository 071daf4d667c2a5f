/** Helpers of the configuration tests: environments and the problems a bad config throws. */
import { LolyError } from "@loly-rt/core";
import { expect } from "vitest";
import { resolveConfig, type ConfigEnv } from "./index.js";

export const DEV: ConfigEnv = { NODE_ENV: "development", REDIS_URL: undefined };
export const PROD: ConfigEnv = { NODE_ENV: "production", REDIS_URL: undefined };
export const ORIGINS = ["https://app.example.com"];

/** The thrown LolyError (fails the test when nothing is thrown). */
export function errorOf(input: unknown, env: ConfigEnv = DEV): LolyError {
  try {
    resolveConfig(input as never, env);
  } catch (error) {
    expect(LolyError.is(error)).toBe(true);
    expect((error as LolyError).code).toBe("INVALID_CONFIG");
    return error as LolyError;
  }
  throw new Error(`expected resolveConfig(${JSON.stringify(input)}) to throw`);
}

/** The problem lines of the thrown message. */
export function problemsOf(input: unknown, env: ConfigEnv = DEV): string[] {
  return errorOf(input, env).message.split("\n").slice(1);
}
