import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { commonJsSource, guestLibrarySource, runnerFiles } from "@coderouter/core";
import { MAX_FETCHES_IN_FLIGHT, MAX_PENDING_SLEEPS } from "./execution.js";

/**
 * The source baked into every isolate's start-up snapshot: core's output conversion, console and
 * web globals (the same files every JavaScript runtime uses) and this runtime's guest prelude.
 */
export function guestSnapshotSource(options: { wasm: boolean }): string {
  const guest = readFileSync(fileURLToPath(new URL("../guest/guest.cjs", import.meta.url)), "utf8");
  return `(() => {
"use strict";
const { toOutput, publishInputs } = ${commonJsSource(runnerFiles.toOutput)};
${guestLibrarySource()}
const EXPOSE_WASM = ${options.wasm};
const MAX_PENDING_SLEEPS = ${MAX_PENDING_SLEEPS};
const MAX_FETCHES_IN_FLIGHT = ${MAX_FETCHES_IN_FLIGHT};
${guest}
})();`;
}
