import { defineWssRoute } from "@loly-rt/core";

export default defineWssRoute({
  events: { ping: () => "pong" },
  onConect: () => {},
} as never);
