import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

// `npm run test:fast`, the inner loop: core, the router on a test runtime, the HTTP routes on a test
// runtime, the CLI's argument parsing and the custom-runtime example. Nothing here starts an
// interpreter, a sandbox or Pyodide; `npm test` runs everything. (Built by spreading, not
// mergeConfig, which would append to the base's include list instead of replacing it.)
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      "packages/core/test/**/*.test.ts",
      "router/test/router.test.ts",
      "packages/server/test/routes.test.ts",
      "packages/cli/test/parsing.test.ts",
      "test/configuration.test.ts",
      "examples/custom-runtime/test/registration.test.ts",
    ],
  },
});
