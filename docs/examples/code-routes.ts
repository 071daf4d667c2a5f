// code-routes.ts: routes passed in code instead of routesDir
import { createServer } from "node:http";
import { createRealtimeServer, type RealtimeServer } from "@loly-rt/server";
import chatRoute from "./app/wss/chat/events.js";
import roomRoute from "./app/wss/rooms/[id]/events.js";

export async function start(): Promise<RealtimeServer> {
  // Optional: your own HTTP server (an Express or Fastify app's server works the same way).
  const httpServer = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("hello");
  });
  const rt = await createRealtimeServer({
    routes: { "/chat": chatRoute, "/rooms/[id]": roomRoute },
    httpServer,
  });
  await rt.listen(3000);
  return rt;
}
