import { isolationAtLeast, type Availability, type Candidate, type Capabilities, type Isolation, type Language } from "@coderouter/core";

export interface ScoringInput {
  language: Language;
  isolation: Isolation;
  expectedDurationMs?: number;
  network?: boolean;
  packages?: string[];
}

/** Jobs longer than this hold a local core for too long: the seeds send them to E2B. */
export const LONG_JOB_MS = 30_000;
/** Beyond this a cloud sandbox's default life is past: a runtime that prefers such jobs takes them. */
export const VERY_LONG_JOB_MS = 10 * 60_000;

/** The hard filters: returns why the runtime cannot take the request, or undefined if it can. */
export function ruleOut(caps: Capabilities, availability: Availability, request: ScoringInput): string | undefined {
  if (!caps.languages.includes(request.language)) {
    const why = caps.notRun?.[request.language];
    return `does not run ${request.language}${why ? `: ${why}` : ""} (runs ${caps.languages.join(", ") || "nothing"})`;
  }
  if (!isolationAtLeast(caps.isolation, request.isolation)) {
    return `gives "${caps.isolation}" isolation, the request needs at least "${request.isolation}"`;
  }
  if (request.expectedDurationMs !== undefined && request.expectedDurationMs > caps.maxDurationMs) {
    return `runs at most ${caps.maxDurationMs} ms, the request expects ${request.expectedDurationMs} ms`;
  }
  if (request.network && !caps.network) return "gives no network access, the request asks for it";
  if (request.packages?.length && caps.packages !== "installable") {
    return `cannot install packages, the request asks for ${request.packages.join(", ")}`;
  }
  if (!availability.available) return `unavailable: ${availability.reason}`;
  return undefined;
}

/**
 * The soft scores, higher is better, each term in points so the breakdown reads as an explanation:
 * - latency: one point per 10 ms of typical start-up, at most 60 (a cold remote sandbox);
 * - cost: one point per tenth of a cent the expected run would cost;
 * - isolation: code that needs a sandbox is best run in a machine of its own (a microVM), the
 *   seeds' rule for untrusted code;
 * - fidelity: an emulated system (WebAssembly) runs less of what code expects than a native
 *   interpreter, so it is chosen when nothing native can take the request;
 * - duration: long jobs move off the local machine, very long ones to a batch cluster;
 * - dependencies: a local runtime missing an imported module would fail, one with installable
 *   packages would not.
 */
export function score(caps: Capabilities, request: ScoringInput, missingModules: string[]): { score: number; breakdown: Record<string, number> } {
  const expected = request.expectedDurationMs;
  const breakdown: Record<string, number> = {
    latency: -Math.min(60, caps.startupMs / 10),
    cost: -(caps.costPerSecondUsd * ((expected ?? 1000) / 1000)) * 1000,
    isolation: isolationAtLeast(request.isolation, "sandbox") && caps.isolation === "vm" ? 70 : 0,
    fidelity: caps.emulated ? -30 : 0,
    duration: durationFit(caps, expected),
    dependencies: 0,
  };
  if (missingModules.length) breakdown.dependencies = caps.packages === "installable" ? 20 : -100;
  const total = Object.values(breakdown).reduce((a, b) => a + b, 0);
  return { score: Math.round(total * 100) / 100, breakdown };
}

/** From declared capabilities only: a runtime with preferred durations is favoured inside them and held back outside. */
function durationFit(caps: Capabilities, expected: number | undefined): number {
  const preferred = caps.preferredDurationMs;
  if (preferred) {
    const inside = expected !== undefined && expected > (preferred.min ?? 0) && expected <= (preferred.max ?? Number.POSITIVE_INFINITY);
    return inside ? 80 : -40;
  }
  if (expected === undefined || expected <= LONG_JOB_MS) return 0;
  if (caps.location === "local") return -30;
  // Past a cloud sandbox's default life the batch cluster is the better remote.
  return expected > VERY_LONG_JOB_MS ? 0 : 40;
}

/** One line that says why the winner won, for the CLI's status line and `explain`. */
export function describeChoice(winner: Candidate, others: Candidate[]): string {
  const terms = Object.entries(winner.breakdown ?? {})
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k} ${v > 0 ? "+" : ""}${Math.round(v * 10) / 10}`)
    .join(", ");
  const runnerUp = others.find((c) => c.eligible && c.runtime !== winner.runtime);
  const versus = runnerUp ? `; next: ${runnerUp.runtime} (${runnerUp.score})` : "; the only eligible runtime";
  return `highest score ${winner.score}${terms ? ` (${terms})` : ""}${versus}`;
}
