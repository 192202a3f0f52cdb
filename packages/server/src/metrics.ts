/**
 * Prometheus text exposition of what the service did: executions by runtime and outcome, their
 * latency as a histogram, requests in flight and queued. Labels never carry request data (no code,
 * no keys), only runtime ids and outcome words.
 */
const BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Metrics {
  private readonly executions = new Map<string, number>();
  private readonly histograms = new Map<string, { buckets: number[]; sum: number; count: number }>();
  private readonly httpResponses = new Map<string, number>();

  recordExecution(runtime: string, outcome: string, seconds: number): void {
    const key = `runtime="${runtime}",outcome="${outcome}"`;
    this.executions.set(key, (this.executions.get(key) ?? 0) + 1);
    let histogram = this.histograms.get(runtime);
    if (!histogram) {
      histogram = { buckets: BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0 };
      this.histograms.set(runtime, histogram);
    }
    BUCKETS_SECONDS.forEach((bound, i) => {
      if (seconds <= bound) histogram.buckets[i]!++;
    });
    histogram.sum += seconds;
    histogram.count++;
  }

  recordResponse(status: number): void {
    const key = `status="${status}"`;
    this.httpResponses.set(key, (this.httpResponses.get(key) ?? 0) + 1);
  }

  render(gauges: Record<string, { help: string; value: number }>, pools: { runtime: string; pool: string; size: number }[] = []): string {
    const lines = [
      "# HELP coderouter_executions_total Executions finished, by runtime and outcome.",
      "# TYPE coderouter_executions_total counter",
      ...[...this.executions].map(([labels, n]) => `coderouter_executions_total{${labels}} ${n}`),
      "# HELP coderouter_execution_duration_seconds Execution latency, by runtime.",
      "# TYPE coderouter_execution_duration_seconds histogram",
    ];
    for (const [runtime, h] of this.histograms) {
      BUCKETS_SECONDS.forEach((bound, i) => lines.push(`coderouter_execution_duration_seconds_bucket{runtime="${runtime}",le="${bound}"} ${h.buckets[i]}`));
      lines.push(`coderouter_execution_duration_seconds_bucket{runtime="${runtime}",le="+Inf"} ${h.count}`);
      lines.push(`coderouter_execution_duration_seconds_sum{runtime="${runtime}"} ${h.sum}`);
      lines.push(`coderouter_execution_duration_seconds_count{runtime="${runtime}"} ${h.count}`);
    }
    lines.push("# HELP coderouter_http_responses_total HTTP responses, by status.", "# TYPE coderouter_http_responses_total counter");
    lines.push(...[...this.httpResponses].map(([labels, n]) => `coderouter_http_responses_total{${labels}} ${n}`));
    lines.push("# HELP coderouter_pool_size Warm resources ready now, by runtime and pool.", "# TYPE coderouter_pool_size gauge");
    lines.push(...pools.map((p) => `coderouter_pool_size{runtime="${p.runtime}",pool="${p.pool}"} ${p.size}`));
    for (const [name, gauge] of Object.entries(gauges)) {
      lines.push(`# HELP ${name} ${gauge.help}`, `# TYPE ${name} gauge`, `${name} ${gauge.value}`);
    }
    return `${lines.join("\n")}\n`;
  }
}
