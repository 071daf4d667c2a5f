import { defineWssRoute } from "@loly-rt/core";
import { greeting } from "@loly-fixture/greeting";

export default defineWssRoute({ events: { greet: () => greeting } });
