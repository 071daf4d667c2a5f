import { defineWssRoute } from "@loly-rt/core";

const greeting: string = "welcome";

export default defineWssRoute({
  events: {
    hello: () => greeting,
  },
});
