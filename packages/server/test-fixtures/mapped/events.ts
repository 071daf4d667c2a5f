import { greeting } from "@loly-fixture/greeting";
import { defineWssRoute } from "@loly-rt/core";

export default defineWssRoute({ events: { greet: () => greeting } });
