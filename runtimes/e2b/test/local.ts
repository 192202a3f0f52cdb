import { readSettings } from "@coderouter/core";
import { E2B_ENV, E2BRuntime, E2BSettingsSchema, type E2BSettings } from "../src/index.js";
import { LocalE2B } from "../../../test/e2b-server/server.js";

export { LocalE2B };

/** An E2B runtime configured, as a user would, by the variables that point the SDK at `server`. */
export function runtimeFor(server: LocalE2B, overrides: Partial<E2BSettings> = {}): E2BRuntime {
  return new E2BRuntime(readSettings(E2BSettingsSchema, E2B_ENV, server.env(), overrides));
}
