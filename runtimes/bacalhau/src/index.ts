import { defineRuntime } from "@coderouter/core";
import { BacalhauRuntime } from "./runtime.js";
import { BACALHAU_ENV, BacalhauSettingsSchema } from "./settings.js";

export { BacalhauRuntime } from "./runtime.js";
export { BacalhauClient, BacalhauError } from "./api.js";
export { BACALHAU_ENV, BacalhauSettingsSchema, type BacalhauSettings } from "./settings.js";

export default defineRuntime({
  id: "bacalhau",
  description: "a job on a Bacalhau cluster (REST API, docker engine)",
  env: BACALHAU_ENV,
  settings: BacalhauSettingsSchema,
  create: (settings) => new BacalhauRuntime(settings),
});
