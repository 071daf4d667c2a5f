import { defineWssRoute } from "@loly-rt/core";

const answer: string = "cts";

export default defineWssRoute({ events: { ping: () => answer } });
