import { readSettings } from "@coderouter/core";
import { BACALHAU_ENV, BacalhauRuntime, BacalhauSettingsSchema, type BacalhauSettings } from "../src/index.js";
import { LocalBacalhau } from "../../../test/bacalhau-server/server.js";

export { LocalBacalhau };

/** A Bacalhau runtime configured, as a user would, by the variables that point it at `server`. */
export function runtimeFor(server: LocalBacalhau, overrides: Partial<BacalhauSettings> = {}): BacalhauRuntime {
  return new BacalhauRuntime(readSettings(BacalhauSettingsSchema, BACALHAU_ENV, { ...server.env(), BACALHAU_POLL_MS: "50" }, overrides));
}
