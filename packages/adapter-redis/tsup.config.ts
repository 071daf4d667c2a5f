import { packageConfig } from "../../tsup.base";

// The build resolves @loly-rt/core as a package (built first); tsconfig.json maps it to its
// sources only so that type checks need no build.
export default packageConfig(["src/index.ts"], { tsconfig: "tsconfig.build.json" });
