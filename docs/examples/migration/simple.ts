// app/wss/chat/events.ts
import { defineWssRoute } from "@loly-rt/core";

export default defineWssRoute({
  events: {
    message: {
      handler: (ctx) => {
        ctx.actions.broadcast("message", ctx.data);
      },
    },
  },
});
