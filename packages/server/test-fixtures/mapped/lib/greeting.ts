export const greeting = "hello from a path-mapped module";
