import { packageConfig } from "../../tsup.base";

/** The package's entry, and the `loly-rt` executable (`bin` in package.json: dist/asyncapi/bin.js). */
export default packageConfig(["src/index.ts", "src/asyncapi/bin.ts"]);
