import type { OutputStream } from "@coderouter/core";
import { LOG_STDOUT, type BacalhauClient, type LogsEnd } from "./api.js";
import { FencedOutput } from "./fenced-output.js";

/**
 * The live output of one execution of a job, through the logs WebSocket. The stream can only be
 * opened once the job has an execution (before that the orchestrator answers "no executions
 * found" and closes it), and may be cut; each reopening replays the execution's output from the
 * start, so what was already passed on is skipped. The wrapper's start marker is taken off
 * stdout and reported (the code starts now); the code's output goes to the request's streams,
 * the result behind the fence is kept back.
 */
export class JobLogs {
  private readonly fenced: FencedOutput;
  private readonly seen = { stdout: 0, stderr: 0 };
  private replay = { stdout: 0, stderr: 0 };
  private head = "";
  private markerSeen = false;
  private assumedStarted = false;
  private stream: Promise<LogsEnd> | undefined;
  private readonly closed = new AbortController();
  /** The execution followed; undefined until the job has one. */
  executionId: string | undefined;
  /** Streams opened that ended cut or refused. */
  failures = 0;
  /** A stream ended normally: the execution's output is all here. */
  complete = false;

  constructor(
    private readonly client: BacalhauClient,
    private readonly jobId: string,
    fence: string,
    private readonly startMarker: string,
    stdout: OutputStream,
    private readonly stderr: OutputStream,
    private readonly onStart: () => void,
  ) {
    this.fenced = new FencedOutput(fence, stdout);
  }

  /** The code has started (or, when no stream could be read, may have). */
  get started(): boolean {
    return this.markerSeen || this.assumedStarted;
  }

  /** No stream can be read: the code is taken to have started now. */
  onUnreadable(): void {
    if (this.started) return;
    this.assumedStarted = true;
    this.onStart();
  }

  get open(): boolean {
    return this.stream !== undefined;
  }

  /** Opens (or reopens) the stream of `executionId`. */
  follow(executionId: string): void {
    if (this.stream || this.complete || this.closed.signal.aborted) return;
    this.executionId = executionId;
    this.replay = { ...this.seen };
    this.stream = this.client.logs(this.jobId, executionId, (type, line) => this.receive(type, line), this.closed.signal);
    void this.stream.then((end) => {
      this.stream = undefined;
      if (end.complete) this.complete = true;
      else this.failures++;
    });
  }

  /** Settles when the open stream ends (the execution is over, or the stream was cut). */
  ended(): Promise<void> | undefined {
    return this.stream?.then(() => undefined);
  }

  /** Waits up to `ms` for an open stream to end, as it does soon after the execution does. */
  async drain(ms: number): Promise<void> {
    const stream = this.stream;
    if (!stream) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stream, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /** The result's JSON text, when the stream carried all of the output. */
  result(): string | undefined {
    return this.complete && this.fenced.found ? this.fenced.end() : undefined;
  }

  /** The code's stdout without the start marker (for the output the cluster recorded). */
  withoutMarker(stdout: string): string {
    return stdout.startsWith(this.startMarker) ? stdout.slice(this.startMarker.length) : stdout;
  }

  close(): void {
    this.closed.abort();
  }

  private receive(type: number, line: string): void {
    const key = type === LOG_STDOUT ? "stdout" : "stderr";
    const skip = Math.min(this.replay[key], line.length);
    this.replay[key] -= skip;
    const fresh = line.slice(skip);
    if (!fresh) return;
    this.seen[key] += fresh.length;
    if (key === "stderr") return this.stderr.write(fresh);
    if (this.markerSeen) return this.fenced.push(fresh);
    this.head += fresh;
    if (this.head.length < this.startMarker.length && this.startMarker.startsWith(this.head)) return;
    this.markerSeen = true;
    const rest = this.head.startsWith(this.startMarker) ? this.head.slice(this.startMarker.length) : this.head;
    this.head = "";
    this.onStart();
    if (rest) this.fenced.push(rest);
  }
}
