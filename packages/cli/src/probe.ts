import type { ExecutionRequest, ExecutionResult, Router } from "coderouter";

/**
 * `doctor --probe ID`: availability only says a runtime answers; the probe runs a tiny Python
 * program on it, end to end (for Bacalhau: submit, schedule, pull, run, logs, result), so a
 * user checks the whole path against their own cluster or account.
 */

const PROBE_CODE = 'import sys\nprint("coderouter probe")\n".".join(map(str, sys.version_info[:3]))\n';
/** Room for a first image pull on a cluster node. */
const PROBE_TIMEOUT_MS = 60_000;

export interface ProbeReport {
  runtime: string;
  ok: boolean;
  /** What the probe saw: the interpreter's version and timings, or why it failed. */
  detail: string;
  result?: ExecutionResult;
}

export async function probe(router: Router, runtime: string): Promise<ProbeReport> {
  try {
    const result = await router.execute({ language: "python", code: PROBE_CODE, runtime: runtime as ExecutionRequest["runtime"], timeoutMs: PROBE_TIMEOUT_MS });
    const printed = result.stdout === "coderouter probe\n";
    if (!result.ok || !printed) {
      const why = result.error ? `${result.error.kind}: ${result.error.message}` : `unexpected output ${JSON.stringify(result.stdout)}`;
      return { runtime, ok: false, detail: why, result };
    }
    const { durationMs, startupMs } = result.metadata;
    const startup = startupMs !== undefined ? `, started in ${(startupMs / 1000).toFixed(1)} s` : "";
    return { runtime, ok: true, detail: `ran python ${String(result.output)} in ${(durationMs / 1000).toFixed(1)} s${startup}`, result };
  } catch (error) {
    return { runtime, ok: false, detail: (error as Error).message };
  }
}

export function formatProbe(report: ProbeReport): string {
  return `${report.ok ? "✓" : "✗"} probe ${report.runtime}: ${report.detail}`;
}
