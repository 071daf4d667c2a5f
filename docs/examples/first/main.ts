// main.ts
import { createRealtimeServer } from "@loly-rt/server";
import chatRoute from "./chat.js";

const rt = await createRealtimeServer({ routes: { "/chat": chatRoute } });
const port = await rt.listen(3000);
console.log(`listening on ${port}`);
