export default { events: { ping: () => "mjs" } };
