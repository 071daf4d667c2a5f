import type { CompiledValidator, LolyLogger, SchemaIssue, ValidationResult, WssSchema } from "@loly-rt/core";
import { compileSchema, isThenable } from "@loly-rt/core/internal";
import type { CompiledRoute } from "../routes/compile.js";

/**
 * Development only: every payload `ctx.actions` sends on a route that declares `emits` is
 * checked against its schema, and a mismatch (or an undeclared event) is logged as an error.
 * The payload is sent as given either way (a schema's transform is never applied), so
 * development and production send the same bytes. In production nothing here runs: the
 * actions test one boolean.
 */

/** The validators of a route's `emits`, compiled on the first emit (`null`: the route declares none). */
const compiled = new WeakMap<CompiledRoute, Map<string, CompiledValidator> | null>();

function validatorsOf(route: CompiledRoute): Map<string, CompiledValidator> | null {
  let table = compiled.get(route);
  if (table === undefined) {
    const emits = (route.route as { emits?: Record<string, WssSchema> }).emits;
    table = emits === undefined ? null : new Map(Object.entries(emits).map(([name, schema]) => [name, compileSchema(schema)]));
    compiled.set(route, table);
  }
  return table;
}

/** How the payload was sent, for the log line: `reply`, `emit`, `broadcast`, `toRoom("lobby").emit`... */
export type EmitVia = string;

/** One line per issue, `path: message` (`(payload): message` for the payload itself). */
function describeIssues(issues: readonly SchemaIssue[]): string {
  return issues.map((i) => `${i.path === "" ? "(payload)" : i.path}: ${i.message}`).join("; ");
}

function report(log: () => LolyLogger, via: EmitVia, event: string, r: ValidationResult): void {
  if (r.ok) return;
  log().error(
    { emit: event, via, issues: r.issues },
    `${via} "${event}": the payload does not match emits.${event}: ${describeIssues(r.issues)}`,
  );
}

/**
 * Checks one outgoing payload against the route's `emits` (development only; call it behind
 * `shared.production`). Never throws and never delays the emit: an asynchronous schema
 * reports when it settles.
 */
export function checkEmit(route: CompiledRoute, log: () => LolyLogger, via: EmitVia, event: string, payload: unknown): void {
  const table = validatorsOf(route);
  if (table === null) return;
  const validate = table.get(event);
  if (validate === undefined) {
    log().error(
      { emit: event, via },
      `${via} "${event}": not declared in the route's emits (declared: ${[...table.keys()].join(", ") || "none"})`,
    );
    return;
  }
  const r = validate(payload);
  if (isThenable<ValidationResult>(r)) r.then((res) => report(log, via, event, res));
  else report(log, via, event, r);
}
