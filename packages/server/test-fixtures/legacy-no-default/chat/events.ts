export const events = [
  { name: "ping", handler: () => "pong" },
  { name: "message", handler: (socket: unknown, data: unknown) => data },
];
