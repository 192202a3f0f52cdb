import type { ExecutionResult, RoutingDecision, RuntimeStatus } from "coderouter";

/**
 * Human-readable renderings. The output value goes to stdout (it is what a script pipes on); the
 * error and the status line go to stderr. stdout/stderr of the code were already streamed live.
 */
export function formatResult(result: ExecutionResult): { stdout: string; stderr: string } {
  const stdout = result.output === null ? "" : `${JSON.stringify(result.output, null, 2)}\n`;
  const lines: string[] = [];
  if (result.stdout && !result.stdout.endsWith("\n")) lines.push("");
  if (result.error) lines.push(result.error.traceback?.trim() || `${result.error.name}: ${result.error.message}`);
  for (const stream of ["stdout", "stderr"] as const) {
    if (result.truncated?.[stream]) lines.push(`(${stream} was truncated at the output limit)`);
  }
  const routing = result.metadata.routing;
  const status = result.ok ? "ok" : `failed (${result.error?.kind})`;
  lines.push(
    `── ${status} · ${result.runtime} · ${Math.round(result.metadata.durationMs)} ms · ${routing.requested === "auto" ? `auto: ${routing.reason}` : "requested explicitly"}`,
  );
  return { stdout, stderr: `${lines.join("\n")}\n` };
}

export function formatDecision(decision: RoutingDecision): string {
  const lines = [`requested: ${decision.requested}`, `selected:  ${decision.selected ?? "none"}`, `reason:    ${decision.reason}`, "", "candidates:"];
  for (const c of decision.candidates) {
    const mark = c.runtime === decision.selected ? "→" : c.eligible ? "·" : "✗";
    const score = c.eligible ? `score ${String(c.score).padStart(7)}` : "ruled out    ";
    lines.push(`  ${mark} ${c.runtime.padEnd(10)} ${score}  ${c.reason}`);
  }
  return lines.join("\n");
}

export function formatDoctor(statuses: RuntimeStatus[]): string {
  const lines: string[] = [];
  for (const s of statuses) {
    const state = s.available ? "ready" : !s.installed ? "not installed" : !s.enabled ? "disabled" : "unavailable";
    lines.push(`${s.available ? "✓" : "✗"} ${s.id.padEnd(10)} ${state.padEnd(13)} ${s.reason}`);
    if (s.capabilities) {
      const c = s.capabilities;
      lines.push(`  ${"".padEnd(24)}${c.languages.join(", ")} · isolation ${c.isolation} · ~${c.startupMs} ms start-up · ${c.location}`);
    }
    if (!s.available && s.fix) lines.push(`  ${"".padEnd(24)}fix: ${s.fix}`);
  }
  return lines.join("\n");
}
