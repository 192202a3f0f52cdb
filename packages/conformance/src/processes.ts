import { execFileSync } from "node:child_process";
import { expect } from "vitest";

/** Processes anywhere on the machine whose command line holds `marker` (a test's own `sleep` argument). */
export function processesWith(marker: string): string[] {
  const lines = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" }).split("\n");
  return lines.filter((line) => line.includes(marker) && !line.includes("ps -eo"));
}

/**
 * Checks that no process holding `marker` is left. SIGKILL is delivered at once but a loaded
 * machine may take a moment to reap, so it polls every 50 ms for up to `withinMs` first.
 */
export async function expectNoneLeft(marker: string, withinMs = 2000): Promise<void> {
  for (let waited = 0; waited < withinMs && processesWith(marker).length; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(processesWith(marker)).toEqual([]);
}
