/**
 * The attack suite at full size against one Loly Realtime instance in its own process (the
 * reliability fixture, default limits, `--expose-gc`): a client that floods acked events for
 * 60 s and never reads (websocket, then polling; it reconnects whenever it is closed), 20,000
 * namespaces asked for over one connection, 2,000 CONNECTs to an auth hook that never settles,
 * 1,000 idle TCP connections. Prints each attack's figures as JSON. Not a CI test (its short
 * version is tests/reliability/src/attacks.test.ts).
 *
 *   ulimit -n 4096
 *   TSX_TSCONFIG_PATH=tsconfig.json node --import tsx bench/soak/attacks.ts
 *   TSX_TSCONFIG_PATH=tsconfig.json node --import tsx bench/soak/attacks.ts --flood 20 --namespaces 5000
 */
import { parseArgs } from "node:util";
import { flood, hangingAuths, idleTcp, manyNamespaces } from "../../tests/reliability/src/support/attacks.js";
import { startInstance } from "../../tests/reliability/src/support/procs.js";

const { values } = parseArgs({
  options: {
    flood: { type: "string", default: "60" },
    namespaces: { type: "string", default: "20000" },
    auths: { type: "string", default: "2000" },
    idle: { type: "string", default: "1000" },
  },
});

const srv = await startInstance(
  // Default limits, but for the per-IP limit (every client here is 127.0.0.1) and an auth timeout
  // shorter than connectTimeoutMs (so hanging auths are refused UNAVAILABLE, not closed unconnected).
  { logging: { level: "error", pretty: false }, handlerTimeoutMs: 2000, limits: { connectionsPerIp: 5000 } },
  { execArgv: ["--expose-gc"] },
);
try {
  const print = (name: string, figures: unknown): void => console.log(`${name}: ${JSON.stringify(figures)}`);
  print("flood websocket", await flood(srv, "websocket", Number(values.flood)));
  print("flood polling", await flood(srv, "polling", Number(values.flood)));
  print("namespaces", await manyNamespaces(srv, Number(values.namespaces)));
  print("hanging auths", await hangingAuths(srv, Number(values.auths)));
  print("idle tcp", await idleTcp(srv, Number(values.idle)));
} finally {
  await srv.stop();
}
