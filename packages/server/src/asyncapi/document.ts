import { CLIENT_ERROR_CODES, ERROR_EVENT, PRESENCE_EVENT, type AnyWssRoute, type RateLimitCfg, type RealtimeConfig } from "@loly-rt/core";
import { OFFSET_EVENT } from "../recovery/restore.js";
import { describeUnexpressible, rebase, toJsonSchema, type JsonSchema } from "./json-schema.js";

/** An AsyncAPI 3.0 document, as plain JSON (serialize it with `JSON.stringify`). */
export interface AsyncApiDocument {
  asyncapi: "3.0.0";
  info: { title: string; version: string; description?: string };
  [key: string]: unknown;
}

/** What the document says about the application itself. */
export interface AsyncApiOptions {
  /** `info.title`. @default "Loly Realtime API" */
  title?: string;
  /** `info.version`: the version of your API (not Loly's). @default "1.0.0" */
  version?: string;
  /** `info.description`. @default a description of how the namespaces map to channels */
  description?: string;
  /** The server's host and port, as clients reach it. @default "localhost:3000" */
  host?: string;
  /** `ws` or `wss` (behind TLS). @default "ws" */
  protocol?: "ws" | "wss";
}

/** The parts of the configuration the document describes. */
export type AsyncApiConfig = Pick<RealtimeConfig, "path" | "transports" | "limits" | "recovery" | "maxPayloadBytes">;

/** A route and the namespace pattern it serves. */
export interface AsyncApiRoute {
  pattern: string;
  route: AnyWssRoute;
}

const SERVER = "realtime";
const SECURITY = "handshake";
const ACK_FAILURE = "LolyAckFailure";
const ERROR_BODY = "LolyErrorBody";
const ERROR_EVENT_SCHEMA = "LolyErrorEvent";
const PRESENCE_DIFF = "LolyPresenceDiff";
const PRESENCE_REQUEST = "LolyPresenceRequest";
const PRESENCE_SNAPSHOT = "LolyPresenceSnapshot";
/** The codes a snapshot request can be refused with. */
const PRESENCE_CODES = ["BAD_PAYLOAD", "FORBIDDEN", "RATE_LIMIT", "UNAVAILABLE", "INTERNAL"] as const;

/** What each client error code means, for the acknowledgement's description. */
const CODE_WHEN: Record<(typeof CLIENT_ERROR_CODES)[number], string> = {
  BAD_PAYLOAD: "the payload does not match the schema, or the event came with more than one payload argument",
  UNAUTHORIZED: "the event needs a user and the socket is anonymous",
  FORBIDDEN: "the guard refused",
  RATE_LIMIT: "a bucket is empty (`details.retryAfterMs`)",
  UNKNOWN_EVENT: "no such event",
  INTERNAL: "the handler failed or timed out",
  UNAVAILABLE: "a store, presence or limiter call did not answer in time",
};

/** A key usable in `components` and in a JSON pointer (`[\w.-]`), unique within `taken`. */
function keyFor(name: string, taken: Set<string>): string {
  const base = name.replace(/[^\w.-]+/g, "_").replace(/^_+|_+$/g, "") || "root";
  let key = base;
  for (let i = 2; taken.has(key); i++) key = `${base}_${i}`;
  taken.add(key);
  return key;
}

/** `/rooms/[id]` -> `/rooms/{id}` and its parameter names. */
function address(pattern: string): { address: string; params: string[] } {
  const params: string[] = [];
  const out = pattern.replace(/\[([^\]]+)\]/g, (_m, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { address: out, params };
}

function limitText(cfg: RateLimitCfg): string {
  const burst = cfg.burst ?? Math.max(1, Math.ceil(cfg.eventsPerSecond));
  return `${cfg.eventsPerSecond} events/s, burst ${burst}, per ${cfg.scope ?? "socket"}`;
}

function limitJson(cfg: RateLimitCfg): Record<string, unknown> {
  return {
    eventsPerSecond: cfg.eventsPerSecond,
    burst: cfg.burst ?? Math.max(1, Math.ceil(cfg.eventsPerSecond)),
    scope: cfg.scope ?? "socket",
  };
}

/** An event of a route, as the document needs it. */
interface EventInfo {
  name: string;
  schema: unknown;
  hasSchema: boolean;
  guard: boolean;
  requireAuth: boolean;
  rateLimit: RateLimitCfg | undefined;
}

function eventsOf(route: AnyWssRoute): EventInfo[] {
  return Object.entries(route.events as Record<string, unknown>).map(([name, entry]) => {
    const def = typeof entry === "function" ? {} : (entry as Record<string, unknown>);
    return {
      name,
      schema: def.schema,
      hasSchema: def.schema !== undefined,
      guard: typeof def.guard === "function",
      requireAuth: def.requireAuth === true,
      rateLimit: def.rateLimit as RateLimitCfg | undefined,
    };
  });
}

/**
 * Builds the AsyncAPI 3.0 document of `routes`: one channel per namespace (its address the
 * namespace, `[param]` segments as channel parameters), and in it
 * - each client event: a `receive` operation with the payload's JSON Schema (the schema's
 *   input; a schema that cannot be expressed says so and why), its acknowledgement as the
 *   reply (`{ ok: true, data }` or `{ ok: false, error }` with the codes it can carry), the
 *   auth requirement (`security`, `x-loly-auth`) and the rate limits (`x-loly-rate-limit`);
 * - each event of `emits`: a `send` operation with its payload's JSON Schema;
 * - `__loly:error` (every refusal) and, with recovery on, `__loly:offset`;
 * - with `presence: { broadcast: true }`: `__loly:presence` both ways, the diffs the server
 *   sends to a room (`send`) and the snapshot request members send (`receive`, with its reply).
 */
export function buildAsyncApi(routes: readonly AsyncApiRoute[], config: AsyncApiConfig, options: AsyncApiOptions = {}): AsyncApiDocument {
  const schemas: Record<string, JsonSchema> = {};
  const schemaKeys = new Set<string>([ACK_FAILURE, ERROR_BODY, ERROR_EVENT_SCHEMA, PRESENCE_DIFF, PRESENCE_REQUEST, PRESENCE_SNAPSHOT]);
  let presence = false;
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const channelKeys = new Set<string>();
  const operationKeys = new Set<string>();
  const globalLimit: RateLimitCfg = {
    eventsPerSecond: config.limits.eventsPerSecond,
    burst: config.limits.burst,
    scope: config.limits.scope,
  };

  /** Places a payload schema in `components.schemas` and returns a reference to it. */
  const payload = (name: string, schema: unknown, none: string): JsonSchema => {
    const key = keyFor(name, schemaKeys);
    const pointer = `#/components/schemas/${key}`;
    if (schema === undefined) schemas[key] = { description: none };
    else {
      const converted = toJsonSchema(schema);
      schemas[key] = converted.ok ? rebase(converted.schema, pointer) : describeUnexpressible(converted.reason);
    }
    return { $ref: pointer };
  };

  for (const { pattern, route } of [...routes].sort((a, b) => a.pattern.localeCompare(b.pattern))) {
    const chan = keyFor(pattern.replace(/^\//, "").replace(/[[\]]/g, ""), channelKeys);
    const chanRef = { $ref: `#/channels/${chan}` };
    const { address: addr, params } = address(pattern);
    const messages: Record<string, unknown> = {};
    const messageKeys = new Set<string>();
    const message = (key: string, body: Record<string, unknown>): { $ref: string } => {
      const k = keyFor(key, messageKeys);
      messages[k] = body;
      return { $ref: `#/channels/${chan}/messages/${k}` };
    };
    const operation = (key: string, body: Record<string, unknown>): void => {
      operations[keyFor(`${chan}.${key}`, operationKeys)] = { channel: chanRef, ...body };
    };
    const auth = route.requireAuth === true ? "required" : typeof route.auth === "function" ? "optional" : "none";
    const security = [{ $ref: `#/components/securitySchemes/${SECURITY}` }];

    for (const ev of eventsOf(route)) {
      const needsUser = auth === "required" || ev.requireAuth;
      const codes = CLIENT_ERROR_CODES.filter(
        (code) => code !== "UNKNOWN_EVENT" && (code !== "UNAUTHORIZED" || ev.requireAuth) && (code !== "FORBIDDEN" || ev.guard),
      );
      const request = message(`client.${ev.name}`, {
        name: ev.name,
        title: ev.name,
        summary: `The client sends \`${ev.name}\`.`,
        payload: payload(`${chan}.client.${ev.name}`, ev.schema, "Any value: the event has no schema."),
      });
      const ack = message(`client.${ev.name}.ack`, {
        name: `${ev.name} (acknowledgement)`,
        title: `Answer to ${ev.name}`,
        summary: `The acknowledgement of \`${ev.name}\`, when the client asked for one.`,
        description: [
          "`{ ok: true, data }` with what the handler returned, or `{ ok: false, error }`. Error codes:",
          ...codes.map((code) => `- \`${code}\`: ${CODE_WHEN[code]}`),
        ].join("\n"),
        payload: {
          oneOf: [
            {
              type: "object",
              required: ["ok"],
              additionalProperties: false,
              properties: { ok: { const: true }, data: { description: "What the handler returned (absent when it returned nothing)." } },
            },
            { $ref: `#/components/schemas/${ACK_FAILURE}` },
          ],
        },
        "x-loly-error-codes": codes,
      });
      const limits = [`global bucket: ${limitText(globalLimit)}`];
      if (ev.rateLimit) limits.push(`own bucket: ${limitText(ev.rateLimit)}`);
      operation(`receive.${ev.name}`, {
        action: "receive",
        title: `Receive ${ev.name}`,
        summary: `Clients send \`${ev.name}\`${ev.hasSchema ? "" : " (any payload)"}.`,
        description: [
          ev.requireAuth
            ? "Needs a signed-in user (`UNAUTHORIZED` otherwise)."
            : auth === "required"
              ? "Only signed-in users connect to this namespace."
              : "Anonymous sockets may send it.",
          ev.guard ? "A guard may refuse it (`FORBIDDEN`)." : "",
          `Rate limits (\`RATE_LIMIT\`): ${limits.join("; ")}.`,
        ]
          .filter(Boolean)
          .join(" "),
        messages: [request],
        reply: { channel: chanRef, messages: [ack] },
        ...(needsUser ? { security } : {}),
        "x-loly-rate-limit": { global: limitJson(globalLimit), ...(ev.rateLimit ? { event: limitJson(ev.rateLimit) } : {}) },
      });
    }

    const emits = route.emits as Record<string, unknown> | undefined;
    for (const [name, schema] of Object.entries(emits ?? {})) {
      const ref = message(`server.${name}`, {
        name,
        title: name,
        summary: `The server sends \`${name}\`.`,
        payload: payload(`${chan}.server.${name}`, schema, "Any value."),
      });
      operation(`send.${name}`, {
        action: "send",
        title: `Send ${name}`,
        summary: `The server sends \`${name}\` to clients.`,
        messages: [ref],
      });
    }

    const errorRef = message("server.loly_error", {
      name: ERROR_EVENT,
      title: ERROR_EVENT,
      summary: "Every refusal or failure of an event, sent to its caller (with or without an acknowledgement).",
      payload: { $ref: `#/components/schemas/${ERROR_EVENT_SCHEMA}` },
    });
    operation("send.loly_error", {
      action: "send",
      title: `Send ${ERROR_EVENT}`,
      summary: "The server tells a client its event was refused or failed.",
      messages: [errorRef],
    });
    const broadcastsPresence = (route.presence as { broadcast?: unknown } | undefined)?.broadcast === true;
    if (broadcastsPresence) {
      presence = true;
      const diffRef = message("server.loly_presence", {
        name: PRESENCE_EVENT,
        title: `${PRESENCE_EVENT} (a change)`,
        summary:
          "A user arrived in a room (their first socket, on any instance) or left it (their last socket), sent to the room's members.",
        description:
          "`presence: { broadcast: true }`: one event per change, cluster-wide. A departure also comes when the instance the user's last socket was on stopped without closing (SIGKILL, crash), within `presence.ttlMs`.",
        payload: { $ref: `#/components/schemas/${PRESENCE_DIFF}` },
      });
      operation("send.loly_presence", {
        action: "send",
        title: `Send ${PRESENCE_EVENT}`,
        summary: "The server tells a room's members who arrived or left.",
        messages: [diffRef],
      });
      const requestRef = message("client.loly_presence", {
        name: PRESENCE_EVENT,
        title: `${PRESENCE_EVENT} (a snapshot request)`,
        summary: "A member of a room asks for its users.",
        payload: { $ref: `#/components/schemas/${PRESENCE_REQUEST}` },
      });
      const snapshotRef = message("client.loly_presence.ack", {
        name: `${PRESENCE_EVENT} (acknowledgement)`,
        title: `Answer to ${PRESENCE_EVENT}`,
        summary: "The room's users, or a refusal.",
        description: [
          "`{ ok: true, data: { room, users } }`, or `{ ok: false, error }`. Error codes:",
          "- `BAD_PAYLOAD`: not `{ room: string }`",
          "- `FORBIDDEN`: the socket is not in the room (it had 5 s, or half of `handlerTimeoutMs`, to join it), or the room is the server's (`user:*`, a socket id)",
          `- \`RATE_LIMIT\`: ${CODE_WHEN.RATE_LIMIT}`,
          `- \`UNAVAILABLE\`: ${CODE_WHEN.UNAVAILABLE}`,
          `- \`INTERNAL\`: ${CODE_WHEN.INTERNAL}`,
        ].join("\n"),
        payload: {
          oneOf: [
            {
              type: "object",
              required: ["ok", "data"],
              additionalProperties: false,
              properties: { ok: { const: true }, data: { $ref: `#/components/schemas/${PRESENCE_SNAPSHOT}` } },
            },
            { $ref: `#/components/schemas/${ACK_FAILURE}` },
          ],
        },
        "x-loly-error-codes": [...PRESENCE_CODES],
      });
      operation("receive.loly_presence", {
        action: "receive",
        title: `Receive ${PRESENCE_EVENT}`,
        summary: "A member of a room asks for its users (what `lolySocket(...).presence(room)` does first, and after each reconnection).",
        description: `Answered only to sockets in the room. Rate limits (\`RATE_LIMIT\`): global bucket: ${limitText(globalLimit)}.`,
        messages: [requestRef],
        reply: { channel: chanRef, messages: [snapshotRef] },
        "x-loly-rate-limit": { global: limitJson(globalLimit) },
      });
    }
    if (config.recovery.enabled) {
      const offsetRef = message("server.loly_offset", {
        name: OFFSET_EVENT,
        title: OFFSET_EVENT,
        summary: "The recovery offset, sent once to each new socket (connection-state recovery).",
        description:
          "socket.io-client keeps it to recover the session after a short disconnection. Every recoverable event (broadcasts without an ack) also carries its offset as an extra, last argument.",
        payload: { type: "string" },
      });
      operation("send.loly_offset", {
        action: "send",
        title: `Send ${OFFSET_EVENT}`,
        summary: "The server gives a new socket its recovery offset.",
        messages: [offsetRef],
      });
    }

    channels[chan] = {
      address: addr,
      title: pattern,
      description: [
        `The Socket.IO namespace \`${pattern}\`.`,
        auth === "required"
          ? "Connecting needs a user: the route's `auth` hook must return one (`connect_error` `UNAUTHORIZED` otherwise)."
          : auth === "optional"
            ? "The route's `auth` hook runs at connection; sockets it returns no user for are anonymous."
            : "No `auth` hook: every socket is anonymous.",
        emits === undefined
          ? "The route declares no `emits`: what the server sends on it, besides the events below, is not described."
          : "",
      ]
        .filter(Boolean)
        .join(" "),
      ...(params.length > 0
        ? {
            parameters: Object.fromEntries(
              params.map((p) => [p, { description: `The \`[${p}]\` segment of the namespace (one path segment).` }]),
            ),
          }
        : {}),
      messages,
      "x-loly-auth": auth,
    };
  }

  return {
    asyncapi: "3.0.0",
    info: {
      title: options.title ?? "Loly Realtime API",
      version: options.version ?? "1.0.0",
      description:
        options.description ??
        "Generated from the routes of a Loly Realtime server. Each Socket.IO namespace is a channel; what clients send are `receive` operations (the acknowledgement, when the client asks for one, is their reply), what the server sends are `send` operations.",
    },
    defaultContentType: "application/json",
    servers: {
      [SERVER]: {
        host: options.host ?? "localhost:3000",
        protocol: options.protocol ?? "ws",
        pathname: config.path,
        title: "Socket.IO endpoint",
        description: [
          `Socket.IO 4 (Engine.IO 4) at \`${config.path}\`; transports: ${config.transports.join(", ")}.`,
          `Each event carries one payload; messages over ${config.maxPayloadBytes} bytes close the connection.`,
          `Global rate limit: ${limitText(globalLimit)}.`,
        ].join(" "),
        "x-loly-rate-limit": limitJson(globalLimit),
      },
    },
    channels,
    operations,
    components: {
      schemas: {
        [ERROR_BODY]: {
          type: "object",
          required: ["code", "message"],
          properties: {
            code: { type: "string", enum: [...CLIENT_ERROR_CODES] },
            message: { type: "string" },
            details: { description: "`BAD_PAYLOAD`: `{ issues: [{ path, message }] }`; `RATE_LIMIT`: `{ retryAfterMs, limit, scope }`." },
          },
        },
        [ACK_FAILURE]: {
          type: "object",
          required: ["ok", "error"],
          additionalProperties: false,
          properties: { ok: { const: false }, error: { $ref: `#/components/schemas/${ERROR_BODY}` } },
        },
        [ERROR_EVENT_SCHEMA]: {
          allOf: [
            { $ref: `#/components/schemas/${ERROR_BODY}` },
            {
              type: "object",
              properties: {
                event: { type: "string", description: "The event it answers." },
                requestId: { type: "string", description: "The request id of that event (in the server's logs)." },
              },
            },
          ],
        },
        ...(presence
          ? {
              [PRESENCE_DIFF]: {
                oneOf: [
                  {
                    type: "object",
                    required: ["room", "joined"],
                    additionalProperties: false,
                    properties: {
                      room: { type: "string" },
                      joined: { type: "string", description: "The user id of the one who arrived." },
                    },
                  },
                  {
                    type: "object",
                    required: ["room", "left"],
                    additionalProperties: false,
                    properties: {
                      room: { type: "string" },
                      left: { type: "string", description: "The user id of the one who left." },
                    },
                  },
                ],
              },
              [PRESENCE_REQUEST]: {
                type: "object",
                required: ["room"],
                properties: { room: { type: "string", minLength: 1 } },
              },
              [PRESENCE_SNAPSHOT]: {
                type: "object",
                required: ["room", "users"],
                additionalProperties: false,
                properties: {
                  room: { type: "string" },
                  users: { type: "array", items: { type: "string" }, uniqueItems: true, description: "User ids, any order." },
                },
              },
            }
          : {}),
        ...schemas,
      },
      securitySchemes: {
        [SECURITY]: {
          type: "apiKey",
          in: "user",
          description:
            "The credentials a client presents when it connects to a namespace (Socket.IO's `auth` payload, or the handshake's headers and cookies), checked by the route's `auth` hook. AsyncAPI has no scheme for a Socket.IO handshake; this is the nearest.",
        },
      },
    },
  };
}
