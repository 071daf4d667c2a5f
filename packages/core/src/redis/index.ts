// Shared Redis plumbing for the Redis-backed packages (filled in by the Redis plumbing work).
export {};
