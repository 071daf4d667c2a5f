import { packageConfig } from "../../tsup.base";

// The build resolves @loly-rt/core as a package (built first; only its types are imported);
// tsconfig.json maps it to its sources only so that type checks need no build.
export default packageConfig(["src/index.ts"], { tsconfig: "tsconfig.build.json", target: "es2020", shims: false });
