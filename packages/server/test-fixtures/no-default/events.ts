import { defineWssRoute } from "@loly-rt/core";

export const route = defineWssRoute({ events: { ping: () => "pong" } });
