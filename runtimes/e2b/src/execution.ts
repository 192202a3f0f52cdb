import {
  inUserPositions,
  limitError,
  OutputStream,
  runtimeResult,
  type Artifact,
  type ExecutionError,
  type JsonValue,
  type LimitKind,
  type NormalizedRequest,
  type PreparedJavaScript,
  type RuntimeResult,
} from "@coderouter/core";
import { toArtifacts } from "./artifacts.js";
import { installCell } from "./cells.js";
import { E2BServiceError, redact } from "./errors.js";
import { runCell, type CellExecution, type CellOptions } from "./interpreter.js";
import type { Sandbox } from "./sdk.js";
import { costUsd, type E2BSettings } from "./settings.js";

/** How long a package installation may take, on top of the execution's timeout. */
export const INSTALL_TIMEOUT_MS = 120_000;

export interface RunOutcome {
  stdout: OutputStream;
  stderr: OutputStream;
  startupMs: number;
  artifacts: Artifact[];
  /** The code context it ran in; none when it ran as a command. */
  contextId?: string;
  output?: JsonValue;
  error?: ExecutionError;
  reusable: boolean;
  /** A limit ended the execution while the kernel was running it. */
  limited?: boolean;
  exitCode?: number;
}

/** What a run leaves for its result: a cell's (RunOutcome) or a command's, which has no start-up time. */
type RunFields = Pick<RunOutcome, "stdout" | "stderr" | "output" | "error" | "exitCode"> & Partial<Pick<RunOutcome, "startupMs" | "artifacts">>;

/**
 * The result of a run in a sandbox, a pooled execution's or a session's: an error of JavaScript we
 * wrapped is moved back to the user's own lines, and the cost is counted up to now.
 */
export function sandboxResult(
  request: NormalizedRequest,
  started: number,
  run: RunFields,
  sandboxId: string,
  settings: E2BSettings,
  prepared?: PreparedJavaScript,
): RuntimeResult {
  return runtimeResult("e2b", request, started, {
    output: run.output,
    error: run.error && prepared?.ok ? inUserPositions(run.error, prepared) : run.error,
    stdout: run.stdout,
    stderr: run.stderr,
    startupMs: run.startupMs,
    sandboxId,
    costUsd: costUsd(settings, performance.now() - started),
    artifacts: run.artifacts,
    exitCode: run.exitCode,
  });
}

type Outcome = { execution: CellExecution } | { failure: unknown } | { limit: LimitKind };

/**
 * One execution in a code context: the packages first when the request has any, then the cell,
 * output streamed and capped, the request's timeout, signal and output limits ending it at once
 * (the stream is closed, on which the interpreter interrupts the kernel). A pooled execution and
 * a session's both run here; `reusable` says whether the context may serve another execution.
 */
export async function runInContext(
  sandbox: Sandbox,
  contextId: string,
  request: NormalizedRequest,
  cell: string,
  startupMs: number,
  settings: E2BSettings,
): Promise<RunOutcome> {
  // A limit ends the execution at once: the stream is closed (the interpreter then interrupts
  // the kernel) and the context is removed before the sandbox goes.
  const stream = new AbortController();
  let limit: LimitKind | undefined;
  const end = (kind: LimitKind) => {
    if (limit) return;
    limit = kind;
    stream.abort();
  };
  const stdout = new OutputStream(request.maxOutputBytes, request.onStdout, () => end("output_limit"));
  const stderr = new OutputStream(request.maxOutputBytes, request.onStderr, () => end("output_limit"));
  const artifacts: Artifact[] = [];
  const base = { stdout, stderr, startupMs, artifacts, contextId: contextId };

  const onAbort = () => end("killed");
  if (request.signal?.aborted) onAbort();
  request.signal?.addEventListener("abort", onAbort, { once: true });
  const cellRun = async (code: string, timeoutMs: number, options: Omit<CellOptions, "contextId" | "signal">): Promise<Outcome> => {
    const timer = setTimeout(() => end("timeout"), timeoutMs);
    try {
      const execution = await runCell(sandbox, code, { ...options, contextId: contextId, signal: stream.signal });
      // A limit reached by the last messages of a stream that still ended normally.
      return limit ? { limit } : { execution };
    } catch (failure) {
      return limit ? { limit } : { failure };
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    if (request.packages?.length) {
      const installed = await cellRun(installCell(request.language, request.packages), INSTALL_TIMEOUT_MS, {
        onStdout: (text) => stderr.write(text),
        onStderr: (text) => stderr.write(text),
      });
      if ("limit" in installed) return { ...base, reusable: false, limited: true, error: limitError(installed.limit, request) };
      if ("failure" in installed) throw installed.failure;
      const code = installed.execution.results.find((r) => r.is_main_result)?.text;
      if (installed.execution.error || code !== "0") {
        return {
          ...base,
          reusable: true,
          error: {
            kind: "runtime",
            name: "PackageInstallError",
            message: `installing ${request.packages.join(", ")} failed${installed.execution.error ? `: ${installed.execution.error.value}` : " (see stderr)"}`,
          } satisfies ExecutionError,
        };
      }
    }
    const outcome = await cellRun(cell, request.timeoutMs, {
      onStdout: (text) => stdout.write(text),
      onStderr: (text) => stderr.write(text),
      onResult: (result) => {
        if (!result.is_main_result) artifacts.push(...toArtifacts(result));
      },
    });
    if ("limit" in outcome) return { ...base, reusable: false, limited: true, error: limitError(outcome.limit, request) };
    if ("failure" in outcome) {
      throw new E2BServiceError(
        `the connection to sandbox ${sandbox.sandboxId} failed during the execution (not retried: the code may have run): ${redact(String((outcome.failure as Error)?.message ?? outcome.failure), settings)}`,
        false,
        undefined,
        { cause: outcome.failure },
      );
    }
    return { ...base, ...readCell(outcome.execution, request) };
  } finally {
    request.signal?.removeEventListener("abort", onAbort);
  }
}

/** The cell's result: our wrapper's JSON, or what the interpreter said when the cell itself broke. */
function readCell(execution: CellExecution, request: NormalizedRequest): { output?: JsonValue; error?: ExecutionError; reusable: boolean } {
  const main = execution.results.find((r) => r.is_main_result && r.json);
  if (main) {
    const reported = main.json as unknown as { output?: JsonValue; error?: ExecutionError };
    return { output: reported.output, error: reported.error, reusable: true };
  }
  const failure = execution.error;
  if (failure) {
    // The wrapper catches every error of the code: an error here means the kernel itself went
    // down, for memory most often (the sandbox's, or the request's limit).
    if (/memory/i.test(`${failure.name} ${failure.value}`)) return { error: limitError("memory", request), reusable: false };
    return { error: { kind: "runtime", name: failure.name, message: failure.value, traceback: failure.traceback }, reusable: false };
  }
  throw new E2BServiceError("the code interpreter returned no result for the execution", false);
}
