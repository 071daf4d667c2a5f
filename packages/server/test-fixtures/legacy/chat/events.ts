import { defineWssRoute } from "@loly-rt/core";

export const events = [{ name: "ping", handler: () => "pong" }];

export default defineWssRoute({ events: {} });
