/// <reference lib="dom" />
/** The counter page: the shared count, a +1 button and who is online, whichever instance serves it. */
import { lolySocket } from "@loly-rt/client";
import type counterRoute from "../app/wss/counter/events.js";
import type { CounterServerEvents } from "../protocol.js";

const $ = (id: string): HTMLElement => document.getElementById(id)!;
const counter = lolySocket<typeof counterRoute, CounterServerEvents>("/counter");

function showUsers(users: string[]): void {
  $("users").replaceChildren(...users.map((u) => Object.assign(document.createElement("li"), { textContent: u })));
}

counter.on("count", ({ count, by, instance }) => {
  $("count").textContent = String(count);
  $("log").textContent = `${by} pressed +1 on instance ${instance}`;
});
counter.on("presence", ({ users }) => showUsers(users));
counter.onError((e) => ($("log").textContent = `${e.code}: ${e.message}`));
counter.socket.on("connect", () => {
  counter.request("hello").then(
    ({ you, count, users }) => {
      $("you").textContent = you;
      $("count").textContent = String(count);
      showUsers(users);
    },
    (err: unknown) => ($("log").textContent = String(err)),
  );
});
$("incr").addEventListener("click", () => {
  counter.request("incr").catch((err: unknown) => ($("log").textContent = String(err)));
});
