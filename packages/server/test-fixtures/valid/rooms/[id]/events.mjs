// A plain JavaScript route without @loly-rt/core: recognised by its structure.
export default {
  events: {
    whereAmI: (ctx) => ctx.params.id,
  },
};
