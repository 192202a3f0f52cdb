import {
  bashOutcome,
  createDebug,
  inUserPositions,
  limitError,
  parseExactJson,
  prepareJavaScript,
  RuntimeClosedError,
  runtimeResult,
  type Availability,
  type Capabilities,
  type ExecutionError,
  type JsonValue,
  type NormalizedRequest,
  type Runtime,
  type RuntimeResult,
  watchLimits,
  type OutputStream,
} from "@coderouter/core";
import { BacalhauClient, BacalhauError, EXECUTION_STATE, isTerminal, type Execution } from "./api.js";
import { buildJob, packPayload } from "./job.js";
import { PayloadServer } from "./payload-server.js";
import { JobLogs } from "./job-logs.js";
import type { BacalhauSettings } from "./settings.js";

const debug = createDebug("coderouter:bacalhau");

/** What a task that ran out of memory leaves on stderr (node's heap limit, Python's). */
const OUT_OF_MEMORY = /heap out of memory|MemoryError|Cannot allocate memory/i;
/** The docker executor's ErrorMsg for an OOM-killed container, in the failed execution's ComputeState.Message. */
const OOM_KILLED = /memory limit exceeded|OOMKilled/i;

/** How long the logs stream may lag behind a job that has completed. */
const LOG_DRAIN_MS = 3000;
/** Executions whose output is worth following: running or done (not refused, failed or cancelled). */
const FOLLOWED: number[] = [EXECUTION_STATE.BidAccepted, EXECUTION_STATE.Running, EXECUTION_STATE.Publishing, EXECUTION_STATE.Completed];
/** While the logs stream is live, the job is read this many times less often. */
const LIVE_POLL_FACTOR = 5;
/** Logs streams opened (each after a cut or a refusal) before the recorded output is relied on. */
const LOG_ATTEMPTS = 5;

/**
 * Jobs on a Bacalhau cluster: one batch job per request, a docker task running the shared wrapper.
 * The job's state is polled, its output followed live through the logs stream (with the
 * execution's recorded output as the fallback), and the job is stopped on the cluster when the
 * request times out, is aborted, or floods its output.
 */
export class BacalhauRuntime implements Runtime {
  readonly id = "bacalhau" as const;
  private readonly client: BacalhauClient | undefined;
  private readonly running = new Set<string>();
  private readonly payloads: PayloadServer | undefined;
  private closed = false;

  constructor(private readonly settings: BacalhauSettings) {
    if (settings.host) {
      const scheme = settings.tls ? "https" : "http";
      this.client = new BacalhauClient({
        baseUrl: `${scheme}://${settings.host}:${settings.port}`,
        apiKey: settings.apiKey,
        namespace: settings.namespace,
        caFile: settings.caFile,
        insecure: settings.insecure,
      });
    }
    if (settings.payloadUrl) this.payloads = new PayloadServer(new URL(settings.payloadUrl), listenAddress(settings.payloadUrl, settings.payloadListen));
  }

  capabilities(): Capabilities {
    return {
      languages: ["python", "javascript", "typescript", "bash"],
      isolation: "vm",
      maxDurationMs: 7 * 24 * 3600_000,
      // Scheduling a job (bidding, pulling the image, starting a container) takes seconds.
      startupMs: 3000,
      costPerSecondUsd: this.settings.priceSecondUsd,
      network: true,
      packages: "none",
      sessions: false,
      location: "remote",
      // A batch scheduler's start-up stops mattering past ten minutes: it is held back for anything shorter.
      preferredDurationMs: { min: 10 * 60_000 },
    };
  }

  async availability(): Promise<Availability> {
    if (!this.client) {
      return {
        available: false,
        reason: "not configured: BACALHAU_API_HOST is not set",
        fix: "set BACALHAU_API_HOST (and BACALHAU_API_PORT, default 1234) to your orchestrator, e.g. one started with `bacalhau serve --orchestrator --compute`",
      };
    }
    try {
      await this.client.alive();
      return { available: true, reason: `orchestrator alive at ${this.settings.host}:${this.settings.port}` };
    } catch (error) {
      return {
        available: false,
        reason: `not alive: ${(error as Error).message}`,
        fix: "start the orchestrator or correct BACALHAU_API_HOST / BACALHAU_API_PORT",
      };
    }
  }

  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    if (this.closed) throw new RuntimeClosedError("bacalhau");
    const client = this.client;
    if (!client) throw new BacalhauError("Bacalhau is not configured: set BACALHAU_API_HOST");
    const started = performance.now();
    let prepared: ReturnType<typeof prepareJavaScript> | undefined;
    if (request.language === "javascript" || request.language === "typescript") {
      prepared = prepareJavaScript(request.code, request.language);
      if (!prepared.ok) return runtimeResult("bacalhau", request, started, { error: prepared.error });
    }
    const packed = packPayload(request, prepared?.ok ? prepared : undefined);
    const published = this.payloads ? await this.payloads.publish(packed) : undefined;
    const spec = buildJob(request, this.settings, published ?? packed);
    if (spec.payloadBytes > this.settings.maxPayloadBytes) {
      throw new BacalhauError(
        `the code and inputs take ${spec.payloadBytes} bytes compressed, more than a job may carry (BACALHAU_MAX_PAYLOAD_BYTES=${this.settings.maxPayloadBytes}); set BACALHAU_PAYLOAD_URL to serve payloads to the nodes, or run it on another runtime`,
      );
    }

    let id: string;
    try {
      id = await client.submit(spec.job);
    } catch (error) {
      published?.withdraw();
      throw error;
    }
    this.running.add(id);
    debug(`job ${id} submitted`);
    // A limit wakes the polling loop below, which stops the job. Until the code starts, the bound
    // is the request's timeout plus the time allowed for scheduling and the image pull.
    let wake: () => void = () => {};
    const limits = watchLimits({ ...request, timeoutMs: request.timeoutMs + this.settings.startTimeoutMs }, () => wake());
    const { stdout, stderr } = limits;
    let startupMs: number | undefined;
    let clock: NodeJS.Timeout | undefined;
    const startClock = () => {
      if (startupMs !== undefined) return;
      startupMs = performance.now() - started;
      clock = setTimeout(() => limits.end("timeout"), request.timeoutMs);
    };
    const logs = new JobLogs(client, id, spec.fence, spec.startMarker, stdout, stderr, startClock);
    const limit = () => {
      const ending = limits.ending();
      return ending === "exited" ? undefined : ending;
    };
    const result = (fields: Parameters<typeof runtimeResult>[3]) =>
      runtimeResult("bacalhau", request, started, { stdout, stderr, startupMs, costUsd: this.cost(started), ...fields });

    try {
      let state = await client.state(id);
      let executions: Execution[] = [];
      while (!limit()) {
        executions = await client.executions(id);
        // A failed execution would be run again by the cluster: a memory kill would only repeat,
        // and the code must not run twice behind the request's back. (A retry that already
        // completed is the job's result.)
        const failed = executions.find((e) => e.ComputeState.StateType === EXECUTION_STATE.Failed);
        if (failed && state.StateType !== "Completed") {
          await this.stop(id, "coderouter: an execution failed");
          if (OOM_KILLED.test(failed.ComputeState.Message)) return result({ error: limitError("memory", request) });
          throw new BacalhauError(`job ${id}: its execution failed on the cluster: ${failed.ComputeState.Message || "no reason given"}`);
        }
        this.followLogs(logs, executions);
        if (isTerminal(state.StateType)) break;
        // Every read of the job returns its spec, payload included: while the live stream says
        // the execution is running, the job is read less often, and again as soon as it ends.
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, this.settings.pollMs * (logs.open ? LIVE_POLL_FACTOR : 1));
          void logs.ended()?.then(resolve);
        });
        if (!limit()) state = await client.state(id);
      }
      const stopped = limit();
      if (stopped) {
        await this.stop(id, `coderouter: ${stopped}`);
        if (stopped === "timeout" && !logs.started) {
          throw new BacalhauError(
            `job ${id} did not start its code within ${this.settings.startTimeoutMs} ms (scheduling and image pull; BACALHAU_START_TIMEOUT_MS)`,
          );
        }
        return result({ error: limitError(stopped, request) });
      }
      if (state.StateType !== "Completed") {
        throw new BacalhauError(`job ${id} ended ${state.StateType} on the cluster${state.Message ? `: ${state.Message}` : ""}`);
      }
      const run = completedRun(executions, id);
      await logs.drain(LOG_DRAIN_MS);
      const resultText = logs.result() ?? recordedResult(run, spec.fence, logs, stdout, stderr, id);
      if (request.language === "bash" && resultText !== undefined) return result(bashOutcome(request, { ...bashReport(resultText, id), stdout, stderr }));
      const reported = parseResult(resultText, run.ExitCode, stderr, request, id);
      const error = reported.error && prepared?.ok ? inUserPositions(reported.error, prepared) : reported.error;
      return result({ output: reported.output, error });
    } catch (error) {
      // Whatever went wrong on our side, the job must not run on without us.
      await this.stop(id, "coderouter: the request failed");
      throw error instanceof BacalhauError ? error : new BacalhauError(`job ${id}: ${(error as Error).message}`, undefined, { cause: error });
    } finally {
      clearTimeout(clock);
      published?.withdraw();
      limits.dispose();
      logs.close();
      this.running.delete(id);
    }
  }

  /**
   * Opens the logs stream once the job has an execution, and again when it was cut or refused.
   * When it cannot be read at all, the request's clock starts now: the code may be running.
   */
  private followLogs(logs: JobLogs, executions: Execution[]): void {
    const execution = executions.filter((e) => FOLLOWED.includes(e.ComputeState.StateType)).at(-1);
    if (!execution || logs.open || logs.complete) return;
    if (logs.failures >= LOG_ATTEMPTS) {
      if (!logs.started) logs.onUnreadable();
      return;
    }
    logs.follow(execution.ID);
  }

  /** Stops every job still running. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.running].map((id) => this.stop(id, "coderouter: closed")));
    await this.payloads?.close();
  }

  private async stop(id: string, reason: string): Promise<void> {
    try {
      await this.client!.stop(id, reason);
      debug(`job ${id} stopped (${reason})`);
    } catch (error) {
      debug(`stopping job ${id} failed: ${(error as Error).message}`);
    }
  }

  private cost(started: number): number {
    return Number((((performance.now() - started) / 1000) * this.settings.priceSecondUsd).toPrecision(4));
  }
}

/** BACALHAU_PAYLOAD_LISTEN as host and port, by default those of BACALHAU_PAYLOAD_URL. */
function listenAddress(publicUrl: string, listen: string | undefined): { host: string; port: number } {
  if (listen) {
    const at = listen.lastIndexOf(":");
    return { host: listen.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(listen.slice(at + 1)) };
  }
  const url = new URL(publicUrl);
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || (url.protocol === "https:" ? 443 : 80)) };
}

/** The execution that completed (after a retry, the first listed is the failed one). */
function completedRun(executions: Execution[], id: string): NonNullable<Execution["RunOutput"]> {
  const completed = executions.filter((e) => e.ComputeState.StateType === EXECUTION_STATE.Completed).at(-1);
  if (!completed?.RunOutput) throw new BacalhauError(`job ${id} completed without a completed execution`);
  return completed.RunOutput;
}

/**
 * When the live stream did not carry all of the output: the output the cluster recorded for the
 * execution. Bacalhau keeps only its first 2 KiB, so a longer output cannot be recovered.
 */
function recordedResult(
  run: NonNullable<Execution["RunOutput"]>,
  fence: string,
  logs: JobLogs,
  stdout: OutputStream,
  stderr: OutputStream,
  id: string,
): string | undefined {
  const recorded = logs.withoutMarker(run.Stdout);
  const marker = `\n${fence}`;
  const at = recorded.indexOf(marker);
  if (at < 0) {
    if (run.StdoutTruncated) throw new BacalhauError(`job ${id}: the logs stream could not be read and the cluster kept only the first 2 KiB of the output`);
    // The wrapper itself never finished (the process exited under it): what it printed is all there is.
    replace(stdout, recorded);
    replace(stderr, run.stderr);
    return undefined;
  }
  replace(stdout, recorded.slice(0, at));
  replace(stderr, run.stderr);
  return recorded.slice(at + marker.length).trim();
}

/** The stream's text becomes the recorded output (streamed parts were incomplete). */
function replace(stream: OutputStream, text: string): void {
  const current = stream.text();
  if (text.startsWith(current)) stream.write(text.slice(current.length));
}

/** What a bash job reports after the fence: the script's exit status on a line, then what it wrote to fd 3. */
function bashReport(text: string, id: string): { exitCode: number; channel: string } {
  const [status = "", ...rest] = text.split("\n");
  if (!/^\d+$/.test(status)) throw new BacalhauError(`job ${id} reported ${JSON.stringify(status.slice(0, 40))} where the script's exit status belongs`);
  return { exitCode: Number(status), channel: rest.join("\n") };
}

function parseResult(
  text: string | undefined,
  exitCode: number,
  stderr: OutputStream,
  request: NormalizedRequest,
  id: string,
): { output?: JsonValue; error?: ExecutionError } {
  if (text === undefined) {
    // The wrapper did not get to report: the process was ended under it.
    if (OUT_OF_MEMORY.test(stderr.text())) return { error: limitError("memory", request) };
    if (exitCode !== 0) return { error: { kind: "runtime", name: "ProcessExit", message: `the process exited with status ${exitCode} before it finished` } };
    throw new BacalhauError(`job ${id} completed without reporting a result`);
  }
  try {
    return parseExactJson(text) as { output?: JsonValue; error?: ExecutionError };
  } catch (error) {
    throw new BacalhauError(`job ${id} reported a result that is not JSON`, undefined, { cause: error });
  }
}
