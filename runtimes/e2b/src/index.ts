import { defineRuntime } from "@coderouter/core";
import { E2BRuntime } from "./runtime.js";
import { E2B_ENV, E2BSettingsSchema } from "./settings.js";

export { E2BRuntime } from "./runtime.js";
export { E2B_ENV, E2BSettingsSchema, type E2BSettings } from "./settings.js";

export default defineRuntime({
  id: "e2b",
  description: "E2B Firecracker microVM in the cloud (@e2b/code-interpreter)",
  env: E2B_ENV,
  settings: E2BSettingsSchema,
  create: (settings) => new E2BRuntime(settings),
});
