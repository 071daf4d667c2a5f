// client.ts (browser or Node)
import { lolySocket, LolyClientError } from "@loly-rt/client";
import type chatRoute from "./app/wss/chat/events.js"; // type-only: no server code in the bundle

// What the server sends to this namespace (the route declares what clients send).
// A `type`, not an `interface`: it must be assignable to Record<string, unknown>.
type ChatServerEvents = {
  message: { from: string; text: string; at: number };
  kicked: { by: string | undefined };
};

const chat = lolySocket<typeof chatRoute, ChatServerEvents>("/chat", {
  url: "http://localhost:3000", // default in a browser: the page's origin
  auth: { token: "alice-token" }, // read by the route's auth hook
});

chat.on("message", (m) => console.log(`${m.from}: ${m.text}`));
chat.onError((e) => console.warn(`${e.event ?? "?"} refused: ${e.code} ${e.message}`));

await chat.ready(); // rejects with UNAUTHORIZED, FORBIDDEN_ORIGIN or TOO_MANY_CONNECTIONS if refused

const pong = await chat.request("ping"); // string
const { delivered } = await chat.request("message", { text: "hello" }); // { delivered: boolean }
console.log(pong, delivered);

try {
  await chat.request("message", { text: "" }, { timeoutMs: 2000 });
} catch (err) {
  if (LolyClientError.is(err) && err.code === "BAD_PAYLOAD") {
    console.warn(err.details); // { issues: [{ path: "text", message: "..." }] }
  }
}

chat.close();
