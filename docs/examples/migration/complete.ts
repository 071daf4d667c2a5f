// app/wss/chat/events.ts
import { defineWssRoute } from "@loly-rt/core";
import { z } from "zod";

export default defineWssRoute({
  onConnect: () => {
    console.log("Connected");
  },
  events: {
    message: {
      schema: z.object({ text: z.string() }),
      handler: (ctx) => {
        ctx.actions.broadcast("message", ctx.data);
      },
    },
  },
});
