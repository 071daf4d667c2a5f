// Route definition
export {
  defineWssRoute,
  isWssRoute,
  assertWssRouteDefinition,
} from "./route.js";
export type {
  WssRoute,
  AnyWssRoute,
  WssRouteDefinition,
  WssEventEntry,
  WssEventConfig,
  WssHandler,
  GuardFn,
  AuthFn,
  ConnectionHook,
  RouteEventName,
  RouteEventInput,
  RouteEventResult,
  RouteUser,
  RouteEmits,
  RoutePresenceBroadcast,
  EmitSchemas,
  EmitPayloads,
} from "./route.js";

// Handler context
export type {
  WssContext,
  WssConnectionContext,
  WssActions,
  WssTarget,
  EmitMap,
  EmitName,
  EmitArgs,
  AuthContext,
  WssRequest,
  WssHandshake,
  WssSocket,
} from "./context.js";

// Errors
export {
  LolyError,
  isClientErrorCode,
  isConnectErrorCode,
  toClientError,
  thrownMessage,
  ERROR_EVENT,
  CLIENT_ERROR_CODES,
  CONNECT_ERROR_CODES,
  STARTUP_ERROR_CODES,
} from "./errors.js";
export type {
  LolyErrorCode,
  ClientErrorCode,
  ConnectErrorCode,
  StartupErrorCode,
  LolyErrorBody,
  LolyErrorEvent,
  AckEnvelope,
} from "./errors.js";

// Schemas
export { isWssSchema } from "./schema.js";
export type {
  WssSchema,
  SafeParseSchema,
  ParseSchema,
  InferSchemaInput,
  InferSchemaOutput,
  SchemaIssue,
  ValidationResult,
  CompiledValidator,
} from "./schema.js";

// Contracts
export type { RealtimeStateStore, JsonValue, StoreSetOptions, LockRelease } from "./store.js";
export type {
  RateLimitCfg,
  RateLimitScope,
  RateLimitBackend,
  RateLimitDecision,
  TokenBucketSpec,
} from "./ratelimit.js";
export { PRESENCE_EVENT } from "./presence.js";
export type {
  PresenceBackend,
  PresenceEntry,
  PresenceExpiry,
  ConnectionCounter,
  WssPresence,
  WssPresenceOptions,
  PresenceDiff,
  PresenceSnapshot,
} from "./presence.js";
export type { LolyLogger, LogFn, WssMetrics, MetricLabels } from "./logger.js";

// Configuration
export type {
  RealtimeConfig,
  RealtimeConfigInput,
  DeepPartial,
  AdapterConfig,
  StateStoreConfig,
  RecoveryConfig,
  LogLevel,
  Transport,
} from "./config/types.js";
