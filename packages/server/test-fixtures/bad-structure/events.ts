// A plain object (no defineWssRoute) whose event has no handler function.
export default {
  events: {
    ping: { handler: "pong" },
  },
};
