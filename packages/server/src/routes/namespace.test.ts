import { LolyError } from "@loly-rt/core";
import { describe, expect, it } from "vitest";
import { compileNamespace, namespaceFromRoutePath } from "./namespace.js";

describe("compileNamespace", () => {
  it("compiles the root namespace as static", () => {
    const ns = compileNamespace("/");
    expect(ns).toMatchObject({ pattern: "/", dynamic: false, paramNames: [] });
    expect(ns.regex).toBeUndefined();
    expect(ns.match("/")).toEqual({});
    expect(ns.match("/chat")).toBeNull();
  });

  it("matches a static namespace exactly", () => {
    const ns = compileNamespace("/chat");
    expect(ns.dynamic).toBe(false);
    expect(ns.match("/chat")).toEqual({});
    expect(ns.match("/chat/")).toBeNull();
    expect(ns.match("/chatroom")).toBeNull();
    expect(ns.match("/")).toBeNull();
  });

  it("treats regex characters in static segments literally", () => {
    const ns = compileNamespace("/a.b/(group)/[id]");
    expect(ns.match("/a.b/(group)/1")).toEqual({ id: "1" });
    expect(ns.match("/axb/(group)/1")).toBeNull();
  });

  it("matches one segment per [param]", () => {
    const ns = compileNamespace("/rooms/[id]");
    expect(ns).toMatchObject({ dynamic: true, paramNames: ["id"] });
    expect(ns.regex).toBeInstanceOf(RegExp);
    expect(ns.match("/rooms/42")).toEqual({ id: "42" });
    expect(ns.regex?.test("/rooms/42")).toBe(true);
    expect(ns.match("/rooms/")).toBeNull();
    expect(ns.match("/rooms")).toBeNull();
    expect(ns.match("/rooms/42/x")).toBeNull();
    expect(ns.regex?.test("/rooms/42/x")).toBe(false);
    expect(ns.match("/x/rooms/42")).toBeNull();
  });

  it("matches several params", () => {
    const ns = compileNamespace("/org/[orgId]/room/[roomId]");
    expect(ns.paramNames).toEqual(["orgId", "roomId"]);
    expect(ns.match("/org/acme/room/lobby")).toEqual({ orgId: "acme", roomId: "lobby" });
    expect(ns.match("/org/acme/rooms/lobby")).toBeNull();
  });

  it("URI-decodes params and keeps malformed escapes raw", () => {
    const ns = compileNamespace("/rooms/[id]");
    expect(ns.match("/rooms/a%20b")).toEqual({ id: "a b" });
    expect(ns.match("/rooms/%E0%A4%A")).toEqual({ id: "%E0%A4%A" });
  });

  it.each([
    ["chat", 'must start with "/"'],
    ["", 'must start with "/"'],
    ["/chat/", "empty segment"],
    ["//chat", "empty segment"],
    ["/a//b", "empty segment"],
    ["/rooms/[1d]", "must be an identifier"],
    ["/rooms/[]", "must be an identifier"],
    ["/rooms/[...slug]", "catch-all"],
    ["/rooms/[id]-x", "plain text or exactly one [param]"],
    ["/rooms/x[id]", "plain text or exactly one [param]"],
    ["/a/[id]/b/[id]", "[id] appears twice"],
  ])("rejects %j with a clear error", (pattern, fragment) => {
    let error: unknown;
    try {
      compileNamespace(pattern);
    } catch (e) {
      error = e;
    }
    expect(LolyError.is(error)).toBe(true);
    expect((error as LolyError).code).toBe("INVALID_ROUTE");
    expect((error as LolyError).message).toContain(JSON.stringify(pattern));
    expect((error as LolyError).message).toContain(fragment);
  });
});

describe("namespaceFromRoutePath", () => {
  it.each([
    ["", "/"],
    [".", "/"],
    ["chat", "/chat"],
    ["rooms/[id]", "/rooms/[id]"],
    ["rooms\\[id]", "/rooms/[id]"],
    ["org\\[orgId]\\room\\[roomId]", "/org/[orgId]/room/[roomId]"],
    ["chat/", "/chat"],
  ])("maps %j to %j", (dir, namespace) => {
    expect(namespaceFromRoutePath(dir)).toBe(namespace);
  });
});
