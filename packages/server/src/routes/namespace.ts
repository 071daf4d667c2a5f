import { LolyError } from "@loly-rt/core";

/** A namespace pattern, compiled once at start-up. */
export interface CompiledNamespace {
  /** The pattern as written, e.g. `"/rooms/[id]"`. */
  pattern: string;
  /** True when the pattern has at least one `[param]` segment. */
  dynamic: boolean;
  /** Matches the namespace names of a dynamic pattern (absent for a static one). */
  regex?: RegExp;
  /** Names of the `[param]` segments, in order. */
  paramNames: string[];
  /**
   * The params of `name` (`{}`, frozen and shared, for a static pattern) when it matches, else `null`.
   * Values are URI-decoded (kept raw when malformed).
   */
  match(name: string): Record<string, string> | null;
}

/** The params of every static namespace: one frozen object shared by all its sockets. */
const NO_PARAMS: Record<string, string> = Object.freeze({});

const PARAM_SEGMENT = /^\[([A-Za-z_$][\w$]*)\]$/;

function invalid(pattern: string, problem: string): never {
  throw new LolyError("INVALID_ROUTE", `Invalid namespace ${JSON.stringify(pattern)}: ${problem}`);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * Compiles a namespace pattern: `"/"`, `"/chat"`, or a dynamic one such as `"/rooms/[id]"`
 * where each `[param]` matches exactly one path segment. Throws a `LolyError("INVALID_ROUTE")`
 * that names the problem for a pattern that does not start with `/`, has an empty segment
 * (`//`, trailing `/`), a param name that is not an identifier, a repeated param, or a
 * segment that mixes text and a param.
 *
 * @example
 * const ns = compileNamespace("/org/[orgId]/room/[roomId]");
 * ns.match("/org/acme/room/42"); // { orgId: "acme", roomId: "42" }
 * ns.match("/org/acme");         // null
 */
export function compileNamespace(pattern: string): CompiledNamespace {
  if (typeof pattern !== "string" || !pattern.startsWith("/")) {
    invalid(String(pattern), 'a namespace must start with "/" (e.g. "/chat")');
  }
  if (pattern === "/") {
    return { pattern, dynamic: false, paramNames: [], match: (name) => (name === "/" ? NO_PARAMS : null) };
  }
  const segments = pattern.slice(1).split("/");
  const paramNames: string[] = [];
  let source = "^";
  for (const segment of segments) {
    if (segment === "") invalid(pattern, 'empty segment (no "//" and no trailing "/")');
    const param = PARAM_SEGMENT.exec(segment);
    if (param) {
      const name = param[1] as string;
      if (paramNames.includes(name)) invalid(pattern, `param [${name}] appears twice`);
      paramNames.push(name);
      source += "/([^/]+)";
      continue;
    }
    if (segment.startsWith("[") && segment.endsWith("]")) {
      invalid(pattern, `${segment}: a param name must be an identifier like [id] or [roomId] (catch-all [...x] is not supported)`);
    }
    if (segment.includes("[") || segment.includes("]")) {
      invalid(pattern, `${segment}: a segment is either plain text or exactly one [param]`);
    }
    source += `/${escapeRegex(segment)}`;
  }
  if (paramNames.length === 0) {
    return { pattern, dynamic: false, paramNames, match: (name) => (name === pattern ? NO_PARAMS : null) };
  }
  const regex = new RegExp(`${source}$`);
  return {
    pattern,
    dynamic: true,
    regex,
    paramNames,
    match(name) {
      const m = regex.exec(name);
      if (!m) return null;
      const params: Record<string, string> = {};
      for (let i = 0; i < paramNames.length; i++) params[paramNames[i] as string] = decodeParam(m[i + 1] as string);
      return params;
    },
  };
}

/**
 * The namespace of a route folder, given its path relative to the routes directory (posix
 * or Windows separators): `""` → `"/"`, `"chat"` → `"/chat"`, `"rooms/[id]"` → `"/rooms/[id]"`.
 * Does not validate; pass the result to {@link compileNamespace}.
 *
 * @example
 * namespaceFromRoutePath("org\\[orgId]\\room"); // "/org/[orgId]/room"
 */
export function namespaceFromRoutePath(relativeDir: string): string {
  const parts = relativeDir.split(/[\\/]+/).filter((part) => part !== "" && part !== ".");
  return `/${parts.join("/")}`;
}
