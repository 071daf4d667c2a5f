"use strict";
// What tsc/babel emit for `export default {...}` in CommonJS: native import() sees it as mod.default.default.
Object.defineProperty(exports, "__esModule", { value: true });
exports.default = { events: { ping: () => "cjs" } };
