/**
 * Demo sign-in: any name becomes a user, as a token signed with HMAC-SHA256. The page gets
 * one from `POST /api/login` and sends it in the Socket.IO handshake (`auth: { token }`);
 * the route's `auth` hook verifies it. A real app would verify its own session or JWT here.
 *
 * The secret is read from `CHAT_SECRET` at each call (server.ts sets a random one when it is
 * missing): route files load as their own module instances, so a secret made at import time
 * here would differ between server.ts and the route.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** Who is signed in. `id` is what presence lists. */
export interface ChatUser {
  id: string;
  name: string;
}

/** Names: 1 to 20 letters, digits, `_`, `-` or spaces (trimmed). */
export const NAME_PATTERN = /^[\p{L}\p{N}_\- ]{1,20}$/u;

function secret(): string {
  const value = process.env.CHAT_SECRET;
  if (!value) throw new Error("CHAT_SECRET is not set (server.ts sets one at start-up)");
  return value;
}

function sign(body: string): string {
  return createHmac("sha256", secret()).update(body).digest("base64url");
}

/** Normalises a name; `null` when it is not acceptable. */
export function cleanName(raw: unknown): string | null {
  if (typeof raw !== "string") return null;
  const name = raw.trim().replace(/\s+/g, " ");
  return NAME_PATTERN.test(name) ? name : null;
}

/** A token for `name` (valid for 12 hours). */
export function issueToken(name: string): string {
  const body = Buffer.from(JSON.stringify({ name, exp: Date.now() + 12 * 3600_000 })).toString("base64url");
  return `${body}.${sign(body)}`;
}

/** The user of a token, or `null` when it is missing, forged or expired. */
export function verifyToken(token: unknown): ChatUser | null {
  if (typeof token !== "string") return null;
  const [body, mac] = token.split(".");
  if (!body || !mac) return null;
  const expected = Buffer.from(sign(body));
  const given = Buffer.from(mac);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const { name, exp } = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as { name?: unknown; exp?: unknown };
    const clean = cleanName(name);
    if (clean === null || typeof exp !== "number" || exp < Date.now()) return null;
    return { id: clean, name: clean };
  } catch {
    return null;
  }
}
