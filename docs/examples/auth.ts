// auth.ts: a stand-in for your own token check (a JWT library, a session lookup...)
export interface User {
  id: string;
  name: string;
  role: "admin" | "member";
}

const SESSIONS: Record<string, User> = {
  "alice-token": { id: "alice", name: "Alice", role: "admin" },
  "bob-token": { id: "bob", name: "Bob", role: "member" },
};

/** The user a token belongs to, or null. */
export async function verifyToken(token: string): Promise<User | null> {
  return SESSIONS[token] ?? null;
}
