export default { events: { ping: () => "js" } };
