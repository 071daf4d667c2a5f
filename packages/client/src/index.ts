// Client
export { lolySocket } from "./client.js";
export type {
  LolySocket,
  LolySocketOptions,
  LolyRequestOptions,
  LolyAuth,
  LolyConnectionState,
  LolyStateDetail,
  LolyConnectRefusal,
  ServerEvents,
  ClientEventName,
  PayloadArgs,
  RequestArgs,
} from "./types.js";

// Live presence
export type { LolyPresence, LolyPresenceChange } from "./presence.js";

// Errors
export { LolyClientError, LOCAL_ERROR_CODES } from "./errors.js";
export type { LolyClientErrorCode, LocalErrorCode } from "./errors.js";

// Route types, re-exported so that apps need no direct dependency on @loly-rt/core
export type {
  RouteEventName,
  RouteEventInput,
  RouteEventResult,
  RouteEmits,
  RoutePresenceBroadcast,
  PresenceDiff,
  PresenceSnapshot,
  LolyErrorEvent,
  ClientErrorCode,
  ConnectErrorCode,
} from "@loly-rt/core";
