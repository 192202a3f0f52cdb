import type { Artifact, ExecutionError, ExecutionResult, JsonValue, NormalizedRequest, RoutingDecision, RuntimeId, RuntimeResult } from "./schemas.js";
import type { OutputStream } from "./output-stream.js";

export interface ResultFields {
  output?: JsonValue;
  error?: ExecutionError;
  stdout?: OutputStream;
  stderr?: OutputStream;
  startupMs?: number;
  sandboxId?: string;
  costUsd?: number;
  artifacts?: Artifact[];
  exitCode?: number;
}

/** Shapes what a runtime returns, the same way for every runtime: `ok` follows `error`, output is null on failure. */
export function runtimeResult(runtime: RuntimeId, request: NormalizedRequest, startedAt: number, fields: ResultFields): RuntimeResult {
  const { stdout, stderr, error } = fields;
  const truncated = stdout?.truncated || stderr?.truncated;
  return {
    ok: !error,
    runtime,
    language: request.language,
    output: error ? null : (fields.output ?? null),
    stdout: stdout?.text() ?? "",
    stderr: stderr?.text() ?? "",
    ...(fields.exitCode !== undefined ? { exitCode: fields.exitCode } : {}),
    ...(error ? { error } : {}),
    ...(truncated ? { truncated: { stdout: Boolean(stdout?.truncated), stderr: Boolean(stderr?.truncated) } } : {}),
    ...(fields.artifacts?.length ? { artifacts: fields.artifacts } : {}),
    metadata: {
      durationMs: performance.now() - startedAt,
      ...(fields.startupMs !== undefined ? { startupMs: fields.startupMs } : {}),
      ...(fields.sandboxId ? { sandboxId: fields.sandboxId } : {}),
      ...(fields.costUsd !== undefined ? { costUsd: fields.costUsd } : {}),
    },
  };
}

/** What callers get: the runtime's result with the routing record, and `success` beside `ok` for the seeds' clients. */
export function executionResult(result: RuntimeResult, routing: RoutingDecision): ExecutionResult {
  const { ok, ...rest } = result;
  return { ok, success: ok, ...rest, metadata: { ...result.metadata, routing } };
}

export type LimitKind = "timeout" | "killed" | "output_limit" | "memory";

/**
 * The error for an output value whose JSON is larger than maxOutputBytes: the same cap as each
 * stream's, checked where the code ran, before the value crosses to the host.
 */
export function outputValueLimitError(request: Pick<NormalizedRequest, "maxOutputBytes">): ExecutionError {
  return {
    kind: "output_limit",
    name: "OutputLimitError",
    message: `the code's output value is more than ${request.maxOutputBytes} bytes as JSON (CODEROUTER_MAX_OUTPUT_BYTES)`,
  };
}

/** The error a runtime reports when it stopped the code for a limit, worded the same everywhere. */
export function limitError(kind: LimitKind, request: NormalizedRequest): ExecutionError {
  switch (kind) {
    case "timeout":
      return { kind, name: "TimeoutError", message: `the code ran longer than its ${request.timeoutMs} ms timeout and was stopped` };
    case "killed":
      return { kind, name: "AbortError", message: "the execution was cancelled" };
    case "output_limit":
      return {
        kind,
        name: "OutputLimitError",
        message: `the code wrote more than ${request.maxOutputBytes} bytes to stdout or stderr and was stopped (CODEROUTER_MAX_OUTPUT_BYTES)`,
      };
    case "memory":
      return {
        kind,
        name: "MemoryError",
        message: `the code ran out of memory${request.memoryMb ? ` (limit ${request.memoryMb} MB)` : ""}`,
      };
  }
}
