import type { AnyWssRoute, RealtimeConfigInput } from "@loly-rt/core";
import { resolveConfig } from "../config/index.js";
import { collectRoutes } from "../routes/collect.js";
import { buildAsyncApi, type AsyncApiDocument, type AsyncApiOptions } from "./document.js";

export { buildAsyncApi } from "./document.js";
export type { AsyncApiDocument, AsyncApiOptions, AsyncApiConfig, AsyncApiRoute } from "./document.js";

/** What {@link createAsyncApiDocument} describes: routes as `createRealtimeServer` takes them, and the configuration. */
export interface AsyncApiSource extends AsyncApiOptions {
  /** Routes by namespace pattern. */
  routes?: Record<string, AnyWssRoute>;
  /** A folder of route files (as `createRealtimeServer`'s `routesDir`). */
  routesDir?: string;
  /** The configuration the server runs with (its path, limits and recovery are described). @default the defaults */
  config?: RealtimeConfigInput;
}

/**
 * The AsyncAPI 3.0 document of routes without starting a server (what `rt.asyncapi()` returns
 * for a server's own routes, and what `loly-rt asyncapi` writes). Routes are loaded and
 * checked as `createRealtimeServer` does (`INVALID_ROUTE`), the configuration too
 * (`INVALID_CONFIG`).
 *
 * @example
 * const doc = await createAsyncApiDocument({ routesDir: "app/wss", title: "Chat", version: "2.1.0" });
 * await writeFile("asyncapi.json", JSON.stringify(doc, null, 2));
 */
export async function createAsyncApiDocument(source: AsyncApiSource = {}): Promise<AsyncApiDocument> {
  const { routes, routesDir, config: input, ...options } = source;
  const { config } = resolveConfig(input, { NODE_ENV: "development" });
  return buildAsyncApi(await collectRoutes(routes, routesDir), config, options);
}
