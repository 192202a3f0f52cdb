import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runnerFiles } from "@coderouter/core";

/** Wraps a CommonJS guest file so its exports become a value in the snapshot's scope. */
function commonJs(path: string): string {
  return `(() => {\nconst module = { exports: {} };\n${readFileSync(path, "utf8")}\nreturn module.exports;\n})()`;
}

/**
 * The source baked into every isolate's start-up snapshot: core's output conversion and console
 * formatting (the same files every JavaScript runtime uses) and this runtime's guest prelude.
 */
export function guestSnapshotSource(): string {
  const guest = readFileSync(fileURLToPath(new URL("../guest/guest.cjs", import.meta.url)), "utf8");
  return `(() => {
const { toOutput, publishInputs } = ${commonJs(runnerFiles.toOutput)};
const { format } = ${commonJs(runnerFiles.inspect)};
${guest}
})();`;
}
