import { limitError, type ExecutionError, type NormalizedRequest } from "@coderouter/core";
import type { ChildOutcome } from "./child.js";

/** Why a child that reported no result ended, as the user should read it. */
export function describeEnding(outcome: ChildOutcome, request: NormalizedRequest): ExecutionError | undefined {
  if (outcome.ending !== "exited") return limitError(outcome.ending, request);
  // Python's MemoryError inside C code, or V8's fatal heap error, ends the process before a result.
  if (/heap out of memory|MemoryError|Cannot allocate memory/.test(outcome.stderr.text())) return limitError("memory", request);
  if (outcome.exitCode === 0) return undefined;
  const how = outcome.signal ? `was ended by ${outcome.signal}` : `exited with status ${outcome.exitCode}`;
  return { kind: "runtime", name: "ProcessExit", message: `the process ${how} before it finished` };
}
