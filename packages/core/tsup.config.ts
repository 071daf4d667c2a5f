import { packageConfig } from "../../tsup.base";

export default packageConfig(["src/index.ts", "src/testing/index.ts", "src/redis/index.ts", "src/internal/index.ts"]);
