// app/wss/rooms/[id]/events.ts: the namespaces "/rooms/1", "/rooms/general"...
import { defineWssRoute } from "@loly-rt/core";
import { z } from "zod";

export default defineWssRoute({
  events: {
    // ctx.params.id is the [id] segment of the namespace the client connected to.
    where: (ctx) => ({ room: ctx.params.id, namespace: ctx.namespace }),

    vote: {
      schema: z.object({ option: z.enum(["yes", "no"]) }),
      handler: async (ctx) => ctx.state.incr(`votes:${ctx.params.id}:${ctx.data.option}`),
    },
  },
});
