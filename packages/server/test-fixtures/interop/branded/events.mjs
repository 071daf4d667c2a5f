// As if built by another copy of @loly-rt/core: only the global brand is shared.
export default Object.freeze({
  events: { ping: () => "branded" },
  [Symbol.for("loly-rt.route")]: true,
});
