/// <reference lib="dom" />
/**
 * The chat page: sign in by name, pick a room, chat, watch who is there. The client is typed
 * from the server route with a type-only import: event names, payloads and results, and what
 * the server sends (`on()`, from the route's `emits`). Who is in the room is the live list of
 * `chat.presence(room)`: the server's snapshot, then its `__loly:presence` diffs. The header
 * shows the connection's state; after a reconnection that did not recover its session the page
 * reloads the room's history.
 */
import {
  lolySocket,
  LOCAL_ERROR_CODES,
  LolyClientError,
  type LolyConnectionState,
  type LolyPresence,
  type LolySocket,
} from "@loly-rt/client";
import type chatRoute from "../app/wss/chat/events.js";
import { MAX_MESSAGE_LENGTH, ROOMS, type ChatMessage, type Room } from "../protocol.js";

type Chat = LolySocket<typeof chatRoute>;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const els = {
  status: $<HTMLSpanElement>("status"),
  me: $<HTMLSpanElement>("me"),
  signout: $<HTMLButtonElement>("signout"),
  error: $<HTMLDivElement>("error"),
  errorText: $<HTMLSpanElement>("error-text"),
  errorClose: $<HTMLButtonElement>("error-close"),
  signin: $<HTMLFormElement>("signin"),
  name: $<HTMLInputElement>("name"),
  chat: $<HTMLElement>("chat"),
  room: $<HTMLSelectElement>("room"),
  leave: $<HTMLButtonElement>("leave"),
  roomName: $<HTMLSpanElement>("room-name"),
  messages: $<HTMLOListElement>("messages"),
  presence: $<HTMLUListElement>("presence"),
  composer: $<HTMLFormElement>("composer"),
  text: $<HTMLInputElement>("text"),
  hint: $<HTMLParagraphElement>("hint"),
};

const TOKEN_KEY = "loly-chat-token";
let chat: Chat | null = null;
let me = "";
let current: Room | null = null;
/** The live list of `current`'s users (it resyncs itself after a reconnection). */
let here: LolyPresence | null = null;
/** Ids of the messages shown for `current`: one that came in the history and live is shown once. */
let shown = new Set<number>();
/** The join waiting for its answer, and the messages of its room that arrived before it. */
let joining: { room: Room; early: ChatMessage[] } | null = null;
let errorTimer: ReturnType<typeof setTimeout> | undefined;

// ---- error banner -------------------------------------------------------------------------

/** One line for a refusal: the code, then what to do about it. */
function describe(code: string, message: string, details: unknown): string {
  if (code === "BAD_PAYLOAD") {
    const issues = (details as { issues?: Array<{ path: string; message: string }> } | undefined)?.issues ?? [];
    const list = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
    return `BAD_PAYLOAD: ${list || message}`;
  }
  if (code === "RATE_LIMIT") {
    const ms = (details as { retryAfterMs?: number } | undefined)?.retryAfterMs ?? 1000;
    return `RATE_LIMIT: slow down, try again in ${(ms / 1000).toFixed(1)} s`;
  }
  return `${code}: ${message}`;
}

function showError(text: string): void {
  els.errorText.textContent = text;
  els.error.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(hideError, 8000);
}

function hideError(): void {
  els.error.hidden = true;
}

/**
 * The server reports every refusal on `__loly:error` (shown by `onError`) and in the ack
 * (the rejected request); only errors the server never saw are shown from here.
 */
function reportLocal(err: unknown): void {
  if (err instanceof LolyClientError && !(LOCAL_ERROR_CODES as readonly string[]).includes(err.code)) return;
  showError(err instanceof Error ? err.message : String(err));
}

// ---- rendering ----------------------------------------------------------------------------

function setStatus(text: string, state: LolyConnectionState | "signed-out"): void {
  els.status.textContent = text;
  els.status.dataset.state = state;
}

function renderPresence(users: readonly string[]): void {
  els.presence.replaceChildren(
    ...users.map((u) => {
      const li = document.createElement("li");
      li.textContent = u === me ? `${u} (you)` : u;
      li.dataset.user = u;
      return li;
    }),
  );
}

function addLine(className: string, parts: Array<[string, string]>): void {
  const li = document.createElement("li");
  li.className = className;
  for (const [cls, text] of parts) {
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = text;
    li.append(span);
  }
  els.messages.append(li);
  els.messages.scrollTop = els.messages.scrollHeight;
}

function addMessage(m: ChatMessage): void {
  if (shown.has(m.id)) return;
  shown.add(m.id);
  const at = new Date(m.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  addLine(m.from === me ? "mine" : "", [
    ["from", m.from],
    ["text", m.text],
    ["at", at],
  ]);
}

function setRoom(room: Room | null): void {
  current = room;
  els.room.value = room ?? "";
  els.roomName.textContent = room ?? "no room";
  els.leave.disabled = room === null;
  els.text.disabled = room === null;
  els.composer.querySelector("button")!.disabled = room === null;
  follow(room);
}

/** Shows the live list of `room`'s users (nobody without a room). */
function follow(room: Room | null): void {
  if (here !== null && here.room === room) return;
  here?.close();
  here = null;
  renderPresence([]);
  if (room === null || !chat) return;
  const list = chat.presence(room);
  here = list;
  list.onChange((users) => {
    if (here === list) renderPresence(users);
  });
  list.onError((err) => reportLocal(err));
}

// ---- actions ------------------------------------------------------------------------------

/**
 * Joins `room` and shows its last messages (the server's history), then what arrived for it
 * while the answer was on its way; `again` after a reconnection that lost the session.
 */
async function join(room: Room, again = false): Promise<void> {
  if (!chat) return;
  const pending = { room, early: [] as ChatMessage[] };
  joining = pending;
  try {
    const res = await chat.request("join", { room });
    // Another join was asked for meanwhile: its answer decides what is shown.
    if (joining !== pending) return;
    setRoom(res.room);
    shown = new Set();
    els.messages.replaceChildren();
    for (const m of [...res.history, ...pending.early].sort((a, b) => a.id - b.id)) addMessage(m);
    addLine("system", [["text", again ? `Back in #${res.room}: history reloaded.` : `You joined #${res.room}.`]]);
  } catch (err) {
    reportLocal(err);
  } finally {
    if (joining === pending) joining = null;
  }
}

async function leave(): Promise<void> {
  if (!chat || current === null) return;
  try {
    await chat.request("leave");
    addLine("system", [["text", `You left #${current}.`]]);
    setRoom(null);
  } catch (err) {
    reportLocal(err);
  }
}

async function send(text: string): Promise<void> {
  if (!chat) return;
  try {
    await chat.request("message", { text });
    els.text.value = "";
  } catch (err) {
    // The text stays in the box so it can be fixed (BAD_PAYLOAD) or sent again (RATE_LIMIT).
    reportLocal(err);
  }
}

function connect(name: string, token: string): void {
  me = name;
  els.me.textContent = name;
  els.signin.hidden = true;
  els.chat.hidden = false;
  els.signout.hidden = false;
  setRoom(null);

  const socket: Chat = lolySocket<typeof chatRoute>("/chat", { auth: { token } });
  chat = socket;
  setStatus("connecting…", socket.state);
  socket.on("message", (m) => {
    if (joining?.room === m.room) joining.early.push(m);
    else if (m.room === current) addMessage(m);
  });
  socket.onError((e) => {
    if (!("refused" in e)) {
      showError(describe(e.code, e.message, e.details));
      return;
    }
    // A refused (re)connection: the token is no longer accepted (the server restarted with
    // another secret, or the token expired), so sign in again; any other refusal is shown.
    if (e.code === "UNAUTHORIZED") {
      signOut();
      showError("UNAUTHORIZED: please sign in again");
    } else {
      showError(describe(e.code, e.message, undefined));
    }
  });
  let wasConnected = false;
  socket.onState((state, detail) => {
    if (chat !== socket) return; // signed out: this socket is done
    if (state === "connected" && !wasConnected) {
      wasConnected = true;
      setStatus("connected", state);
      void join("general");
    } else if (state === "connected" && socket.recovered) {
      // Same session: back in the room, and the messages sent meanwhile were delivered.
      setStatus("back, nothing missed", state);
    } else if (state === "connected") {
      // A new session (the server restarted, or we were away too long): rooms are gone and
      // messages may have been missed, so join again and show the room's history afresh.
      setStatus(current === null ? "back" : "back, reloading history", state);
      if (current !== null) void join(current, true);
    } else if (state === "reconnecting") {
      setStatus("reconnecting…", state);
    } else if (state === "connecting") {
      setStatus(detail.error ? `cannot connect (${detail.error.code}), retrying…` : "connecting…", state);
    } else {
      setStatus(detail.error ? `disconnected (${detail.error.code})` : "disconnected", state);
    }
  });
}

function signOut(): void {
  const socket = chat;
  chat = null;
  socket?.close();
  sessionStorage.removeItem(TOKEN_KEY);
  els.chat.hidden = true;
  els.signin.hidden = false;
  els.signout.hidden = true;
  els.me.textContent = "";
  els.messages.replaceChildren();
  setRoom(null);
  setStatus("signed out", "signed-out");
}

async function signIn(name: string): Promise<void> {
  const res = await fetch("/api/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  const body = (await res.json()) as { name?: string; token?: string; error?: string };
  if (!res.ok || !body.token || !body.name) {
    showError(body.error ?? `sign-in failed (${res.status})`);
    return;
  }
  hideError();
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ name: body.name, token: body.token }));
  connect(body.name, body.token);
}

// ---- wiring -------------------------------------------------------------------------------

for (const room of ROOMS) els.room.append(new Option(`#${room}`, room));
els.room.append(new Option("(none)", ""));
els.hint.textContent = `Messages: 1 to ${MAX_MESSAGE_LENGTH} characters, 5 in a burst then 1 a second.`;

els.signin.addEventListener("submit", (e) => {
  e.preventDefault();
  void signIn(els.name.value);
});
els.composer.addEventListener("submit", (e) => {
  e.preventDefault();
  void send(els.text.value);
});
els.room.addEventListener("change", () => {
  const room = els.room.value as Room | "";
  if (room === "") void leave();
  else void join(room);
});
els.leave.addEventListener("click", () => void leave());
els.signout.addEventListener("click", signOut);
els.errorClose.addEventListener("click", hideError);

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  const { name, token } = JSON.parse(saved) as { name: string; token: string };
  connect(name, token);
}
