// server.ts
import { createRealtimeServer } from "@loly-rt/server";

const rt = await createRealtimeServer({
  routesDir: "app/wss", // app/wss/chat/events.ts -> "/chat", app/wss/rooms/[id]/events.ts -> "/rooms/[id]"
  config: {
    // Required in production (NODE_ENV=production); "*" is the development default.
    allowedOrigins: process.env.NODE_ENV === "production" ? ["https://chat.example.com"] : "*",
  },
});

const port = await rt.listen(Number(process.env.PORT ?? 3000));
rt.logger.info(`Socket.IO on http://localhost:${port}/wss, metrics on http://localhost:${port}/metrics`);

// Graceful stop: onDisconnect hooks run, presence is cleaned, Redis clients are closed.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void rt.close().then(() => process.exit(0));
  });
}
