import { execFileSync } from "node:child_process";

/** Processes anywhere on the machine whose command line holds `marker` (a test's own `sleep` argument). */
export function processesWith(marker: string): string[] {
  const lines = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" }).split("\n");
  return lines.filter((line) => line.includes(marker) && !line.includes("ps -eo"));
}
