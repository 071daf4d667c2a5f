import { defineWssRoute } from "@loly-rt/core";
import { z } from "zod";
import { shout } from "../lib/shout.js";

export default defineWssRoute({
  events: {
    ping: () => "pong",
    message: {
      schema: z.object({ text: z.string().max(500) }),
      rateLimit: { eventsPerSecond: 5, burst: 10 },
      handler: (ctx) => shout(ctx.data.text),
    },
  },
});
