// Server
export { createRealtimeServer } from "./create-server.js";
export type {
  DisconnectUserResult,
  FetchedSocket,
  FetchSocketsFilter,
  FetchSocketsResult,
  RealtimeServer,
  RealtimeServerOptions,
  RevalidateFilter,
  RevalidateResult,
} from "./types.js";

// Configuration
export { resolveConfig, DEFAULT_CONFIG, describeConfig } from "./config/index.js";

// Route files
export { loadRoutesDir } from "./routes/load.js";

// AsyncAPI
export { createAsyncApiDocument } from "./asyncapi/index.js";
export type { AsyncApiDocument, AsyncApiOptions, AsyncApiSource } from "./asyncapi/index.js";

// Logging and metrics
export { createLogger, REDACT_PATHS, redactCensor } from "./logging.js";
export { createServerMetrics } from "./metrics.js";
export type { ServerMetrics, EventOutcome } from "./metrics.js";

// Re-exported from @loly-rt/core for one-import apps
export { defineWssRoute, LolyError } from "@loly-rt/core";
export type { WssContext, RealtimeConfig, RealtimeConfigInput, AnyWssRoute } from "@loly-rt/core";
