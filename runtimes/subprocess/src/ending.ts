import {
  inUserPositions,
  limitError,
  protocolError,
  runtimeResult,
  type ExecutionError,
  type NormalizedRequest,
  type PreparedJavaScript,
  type RuntimeResult,
} from "@coderouter/core";
import type { ChildOutcome } from "./child.js";

/** The result of an execution from how its process ended and what its wrapper reported. */
export function outcomeResult(request: NormalizedRequest, started: number, outcome: ChildOutcome, prepared: PreparedJavaScript | undefined): RuntimeResult {
  const streams = { stdout: outcome.stdout, stderr: outcome.stderr };
  if (outcome.protocol && outcome.ending === "exited")
    return runtimeResult("subprocess", request, started, { ...streams, error: protocolError(outcome.protocol) });
  const reported = outcome.ending === "exited" ? outcome.reported : undefined;
  // A Buffer or typed array past node's data limit fails to allocate: the memory limit, not a bug.
  if (request.memoryMb && reported?.error?.name === "RangeError" && /Array buffer allocation failed/.test(reported.error.message)) {
    return runtimeResult("subprocess", request, started, { ...streams, error: limitError("memory", request) });
  }
  return runtimeResult("subprocess", request, started, {
    ...streams,
    output: reported?.output,
    error: reported ? (prepared?.ok ? inUserPositions(reported.error, prepared) : reported.error) : describeEnding(outcome, request),
    artifacts: reported?.artifacts,
  });
}

/** Why a child that reported no result ended, as the user should read it. */
export function describeEnding(outcome: ChildOutcome, request: NormalizedRequest): ExecutionError | undefined {
  if (outcome.ending !== "exited") return limitError(outcome.ending, request);
  // Python's MemoryError inside C code, or V8's fatal heap error, ends the process before a result.
  if (/out of memory|MemoryError|Cannot allocate memory|allocation failed/.test(outcome.stderr.text())) return limitError("memory", request);
  if (outcome.exitCode === 0) return undefined;
  const how = outcome.signal ? `was ended by ${outcome.signal}` : `exited with status ${outcome.exitCode}`;
  return { kind: "runtime", name: "ProcessExit", message: `the process ${how} before it finished` };
}
