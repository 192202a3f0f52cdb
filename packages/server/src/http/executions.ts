import type { ExecutionResult } from "coderouter";
import type { Gate } from "../gate.js";
import type { Metrics } from "../metrics.js";
import { HttpError, toHttpError } from "./error.js";
import type { Exchange } from "./exchange.js";

export type RunOptions = { signal: AbortSignal; onStdout?: (data: string) => void; onStderr?: (data: string) => void };
export type Run = (options: RunOptions) => Promise<ExecutionResult>;

/**
 * Every execution the server runs, whichever route asked: admitted through the gate, aborted when
 * its client goes away or the server stops, answered as one JSON result or as an NDJSON stream.
 */
export class Executions {
  private readonly running = new Set<AbortController>();
  private stopping = false;

  constructor(
    private readonly gate: Gate,
    private readonly metrics: Metrics,
  ) {}

  get isStopping(): boolean {
    return this.stopping;
  }

  async run(exchange: Exchange, run: Run): Promise<void> {
    if (this.stopping)
      throw new HttpError(503, { error: { kind: "stopping", message: "the server is shutting down", retryable: true } }, { "retry-after": "1" });
    const release = await this.gate.enter();
    if (!release) {
      throw new HttpError(
        429,
        { error: { kind: "busy", message: "too many executions are running or queued; retry shortly", retryable: true } },
        { "retry-after": "1" },
      );
    }
    const { req, res } = exchange;
    const abort = new AbortController();
    this.running.add(abort);
    // A client that goes away takes its execution with it.
    res.once("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    const streaming = (req.headers.accept ?? "").includes("application/x-ndjson");
    const line = (event: object) => res.write(`${JSON.stringify(event)}\n`);
    try {
      if (streaming) exchange.startStream("application/x-ndjson");
      let result: ExecutionResult;
      const options = {
        signal: abort.signal,
        ...(streaming ? { onStdout: (data: string) => line({ type: "stdout", data }), onStderr: (data: string) => line({ type: "stderr", data }) } : {}),
      };
      try {
        result = await run(options);
      } catch (error) {
        if (!streaming) throw error;
        const failure = toHttpError(error);
        line({ type: "error", status: failure.status, ...failure.body });
        res.end();
        return;
      }
      this.metrics.recordExecution(result.runtime, result.ok ? "ok" : (result.error?.kind ?? "error"), result.metadata.durationMs / 1000);
      if (streaming) {
        line({ type: "result", result });
        res.end();
      } else {
        exchange.send(200, result);
      }
    } finally {
      this.running.delete(abort);
      release();
    }
  }

  /** Refuses new work, lets running work finish until the deadline, then aborts the rest and waits for it. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + timeoutMs;
    while (this.running.size && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const abort of this.running) abort.abort();
    while (this.running.size) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
