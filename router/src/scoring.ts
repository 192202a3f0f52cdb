import {
  isolationAtLeast,
  type Availability,
  type Candidate,
  type Capabilities,
  type Isolation,
  type Language,
  type RuntimeId,
} from "@coderouter/core";

export interface ScoringInput {
  language: Language;
  isolation: Isolation;
  expectedDurationMs?: number;
  network?: boolean;
}

/** Jobs longer than this hold a local core for too long: the seeds send them to E2B. */
export const LONG_JOB_MS = 30_000;
/** Beyond this a batch scheduler's start-up cost no longer matters: Bacalhau's territory. */
export const VERY_LONG_JOB_MS = 10 * 60_000;

/** The hard filters: returns why the runtime cannot take the request, or undefined if it can. */
export function ruleOut(caps: Capabilities, availability: Availability, request: ScoringInput): string | undefined {
  if (!caps.languages.includes(request.language)) {
    return `does not run ${request.language} (runs ${caps.languages.join(", ") || "nothing"})`;
  }
  if (!isolationAtLeast(caps.isolation, request.isolation)) {
    return `gives "${caps.isolation}" isolation, the request needs at least "${request.isolation}"`;
  }
  if (request.expectedDurationMs !== undefined && request.expectedDurationMs > caps.maxDurationMs) {
    return `runs at most ${caps.maxDurationMs} ms, the request expects ${request.expectedDurationMs} ms`;
  }
  if (request.network && !caps.network) return "gives no network access, the request asks for it";
  if (!availability.available) return `unavailable: ${availability.reason}`;
  return undefined;
}

/**
 * The soft scores, higher is better, each term in points so the breakdown reads as an explanation:
 * - latency: one point per 10 ms of typical start-up, at most 60 (a cold remote sandbox);
 * - cost: one point per tenth of a cent the expected run would cost;
 * - duration: long jobs move off the local machine, very long ones to a batch cluster;
 * - dependencies: a local runtime missing an imported module would fail, one with installable
 *   packages would not.
 */
export function score(
  id: RuntimeId,
  caps: Capabilities,
  request: ScoringInput,
  missingModules: string[],
): { score: number; breakdown: Record<string, number> } {
  const expected = request.expectedDurationMs;
  const breakdown: Record<string, number> = {
    latency: -Math.min(60, caps.startupMs / 10),
    cost: -(caps.costPerSecondUsd * ((expected ?? 1000) / 1000)) * 1000,
    duration: durationFit(id, caps, expected),
    dependencies: 0,
  };
  if (missingModules.length) breakdown.dependencies = caps.packages === "installable" ? 20 : -100;
  const total = Object.values(breakdown).reduce((a, b) => a + b, 0);
  return { score: Math.round(total * 100) / 100, breakdown };
}

function durationFit(id: RuntimeId, caps: Capabilities, expected: number | undefined): number {
  if (expected === undefined) return id === "bacalhau" ? -40 : 0;
  if (id === "bacalhau") return expected > VERY_LONG_JOB_MS ? 40 : -40;
  if (expected <= LONG_JOB_MS) return 0;
  return caps.location === "local" ? -30 : 30;
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
