import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LolyError, defineWssRoute } from "@loly-rt/core";
import { refusal, sleep, startServer, type TestServer } from "../test-helpers.js";

/** What each `handshake.auth.kind` makes the auth hook throw. */
const THROWN: Record<string, () => unknown> = {
  loly: () => new LolyError("FORBIDDEN", "token expired"),
  error: () => new Error("invalid token"),
  plain: () => ({ code: "TOKEN_REVOKED", message: "revoked at 12:00" }),
  bare: () => ({ reason: "no message here" }),
  string: () => "nope",
};

describe("the `auth refused the connection` log line", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({
      "/a": defineWssRoute({
        auth: ({ handshake }): null => {
          throw THROWN[handshake.auth.kind as string]!();
        },
        events: {},
      }),
    });
  });
  afterAll(async () => {
    await t.close();
  });

  async function logged(kind: string): Promise<Record<string, unknown>> {
    expect(await refusal(t.connect("/a", { auth: { kind } }))).toBe("UNAUTHORIZED");
    await sleep(10);
    const lines = t.logs.filter((l) => l.msg === "auth refused the connection");
    const line = lines[lines.length - 1];
    expect(line).toBeDefined();
    t.logs.length = 0;
    return line!;
  }

  it("logs a LolyError's code and message, without a stack", async () => {
    const line = await logged("loly");
    expect(line).toMatchObject({ level: 30, namespace: "/a", code: "FORBIDDEN", reason: "token expired" });
    expect(typeof line.socketId).toBe("string");
    expect(line).not.toHaveProperty("err");
  });

  it("logs an Error's message, and the error with its type and stack", async () => {
    const line = await logged("error");
    expect(line).toMatchObject({ reason: "invalid token", err: { type: "Error", message: "invalid token" } });
    expect((line.err as { stack: string }).stack).toContain("invalid token");
    expect(line).not.toHaveProperty("code");
  });

  it("logs a plain object's code and message, never `{ type: Object }`", async () => {
    expect(await logged("plain")).toMatchObject({ code: "TOKEN_REVOKED", reason: "revoked at 12:00" });
    const bare = await logged("bare");
    expect(bare).toMatchObject({ reason: "a thrown object without a message" });
    expect(bare).not.toHaveProperty("err");
  });

  it("logs a thrown string as the reason", async () => {
    const line = await logged("string");
    expect(line).toMatchObject({ reason: "nope" });
    expect(line).not.toHaveProperty("err");
  });
});
