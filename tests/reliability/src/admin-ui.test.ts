/**
 * `@socket.io/admin-ui` on a Loly server (SPEC 11): `instrument(rt.io, ...)` in development
 * mode (which proxies and rebuilds every socket's `socket.data` at connection time) and in
 * production mode, with anonymous and signed-in sockets: nothing crashes, the admin namespace
 * sees the sockets, `socket.data.user` stays the auth hook's and read-only, and the admin
 * namespace is behind the origin allow-list like every other.
 */
import { instrument } from "@socket.io/admin-ui";
import { afterEach, describe, expect, it } from "vitest";
import { io as ioClient, type Socket } from "socket.io-client";
import { defineWssRoute } from "@loly-rt/core";
import { request, startServer, type TestServer } from "../../../packages/server/src/test-helpers.js";

const route = defineWssRoute({
  auth: ({ handshake }) => {
    const token = handshake.auth.token;
    return typeof token === "string" && token !== "" ? { id: token, role: "user" } : null;
  },
  events: {
    whoami: (ctx) => ({ user: ctx.user, data: ctx.socket.data.user ?? null }),
    steal: (ctx) => {
      (ctx.socket.data as { user: unknown }).user = { id: "root", role: "admin" };
      return "stolen";
    },
  },
});

const servers: TestServer[] = [];
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const connected = (s: Socket): Promise<Socket> =>
  new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });

function admin(srv: TestServer, origin?: string): Socket {
  const s = ioClient(`${srv.url}/admin`, {
    path: "/wss",
    transports: ["polling"],
    reconnection: false,
    forceNew: true,
    ...(origin ? { extraHeaders: { origin } } : {}),
  });
  clients.push(s);
  return s;
}

describe.each(["development", "production"] as const)("admin-ui in %s mode", (mode) => {
  it("anonymous and signed-in sockets connect and work; the admin namespace sees them; socket.data.user stays read-only", async () => {
    const srv = await startServer({ "/app": route }, { allowedOrigins: ["https://admin.socket.io"] });
    servers.push(srv);
    instrument(srv.rt.io, { auth: false, mode });
    const watcher = admin(srv, "https://admin.socket.io");
    const config = new Promise<{ supportedFeatures: string[] }>((r) => watcher.once("config", r));
    await connected(watcher);
    expect((await config).supportedFeatures.includes("ALL_EVENTS")).toBe(mode === "development");

    const anon = srv.connect("/app");
    const alice = srv.connect("/app", { auth: { token: "alice" } });
    await Promise.all([connected(anon), connected(alice)]);
    expect(await request(anon, "whoami")).toEqual({ ok: true, data: { user: null, data: null } });
    const me = { id: "alice", role: "user" };
    expect(await request(alice, "whoami")).toEqual({ ok: true, data: { user: me, data: me } });
    const stolen = await request(alice, "steal");
    expect(stolen).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
    expect(await request(alice, "whoami")).toEqual({ ok: true, data: { user: me, data: me } });
    // The admin namespace's view of the app's sockets.
    const sockets = (await srv.rt.io.of("/app").fetchSockets()).map((s) => ({ id: s.id, user: (s.data as { user?: unknown }).user }));
    expect(sockets).toEqual(expect.arrayContaining([{ id: alice.id, user: me }]));
    if (mode === "development") {
      // A dashboard opened now gets every socket, with its data as the admin UI serializes it.
      const late = admin(srv, "https://admin.socket.io");
      const all = new Promise<Array<{ id: string; nsp: string; data: Record<string, unknown> }>>((r) => late.once("all_sockets", r));
      await connected(late);
      const list = await all;
      expect(list.find((s) => s.id === alice.id)).toMatchObject({ nsp: "/app", data: { user: me } });
      expect(list.find((s) => s.id === anon.id)?.nsp).toBe("/app");
    }
    expect(srv.rt.health().ok).toBe(true);
  });

  it("the admin namespace is behind the origin allow-list", async () => {
    const srv = await startServer({ "/app": route }, { allowedOrigins: ["https://admin.socket.io"] });
    servers.push(srv);
    instrument(srv.rt.io, { auth: false, mode });
    const foreign = admin(srv, "https://evil.example");
    const err = await connected(foreign).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(foreign.connected).toBe(false);
    const refused = await srv.rt.metrics.getSingleMetric("loly_connections_refused_total")?.get();
    expect(refused?.values.find((v) => v.labels.namespace === "(handshake)" && v.labels.code === "FORBIDDEN_ORIGIN")?.value).toBe(1);
    const allowed = admin(srv, "https://admin.socket.io");
    await connected(allowed);
  });
});
