import {
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
import { BacalhauClient, BacalhauError, isTerminal, LOG_STDOUT, type Execution } from "./api.js";
import { FencedOutput } from "./fenced-output.js";
import { buildJob } from "./job.js";
import type { BacalhauSettings } from "./settings.js";

const debug = createDebug("coderouter:bacalhau");

/** What a task killed for memory leaves on stderr (node's heap limit, Python's, the kernel's OOM kill). */
const OUT_OF_MEMORY = /heap out of memory|MemoryError|Cannot allocate memory|OOMKilled/i;

/** How long the logs stream may lag behind a job that has completed. */
const LOG_DRAIN_MS = 3000;

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
  private closed = false;

  constructor(private readonly settings: BacalhauSettings) {
    if (settings.host) {
      const scheme = settings.tls ? "https" : "http";
      this.client = new BacalhauClient({
        baseUrl: `${scheme}://${settings.host}:${settings.port}`,
        apiKey: settings.apiKey,
        namespace: settings.namespace,
      });
    }
  }

  capabilities(): Capabilities {
    return {
      languages: ["python", "javascript", "typescript"],
      isolation: "vm",
      maxDurationMs: 7 * 24 * 3600_000,
      // Scheduling a job (bidding, pulling the image, starting a container) takes seconds.
      startupMs: 3000,
      costPerSecondUsd: this.settings.priceSecondUsd,
      network: true,
      packages: "none",
      sessions: false,
      location: "remote",
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
      return { available: false, reason: `not alive: ${(error as Error).message}`, fix: "start the orchestrator or correct BACALHAU_API_HOST / BACALHAU_API_PORT" };
    }
  }

  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    if (this.closed) throw new RuntimeClosedError("bacalhau");
    const client = this.client;
    if (!client) throw new BacalhauError("Bacalhau is not configured: set BACALHAU_API_HOST");
    const started = performance.now();
    let prepared: ReturnType<typeof prepareJavaScript> | undefined;
    if (request.language !== "python") {
      prepared = prepareJavaScript(request.code, request.language);
      if (!prepared.ok) return runtimeResult("bacalhau", request, started, { error: prepared.error });
    }
    const { job, fence } = buildJob(request, this.settings, prepared?.ok ? prepared : undefined);

    const id = await client.submit(job);
    this.running.add(id);
    debug(`job ${id} submitted`);
    const startupMs = performance.now() - started;
    // A limit wakes the polling loop below, which stops the job.
    let wake: () => void = () => {};
    const limits = watchLimits(request, () => wake());
    const { stdout, stderr } = limits;
    const limit = () => {
      const ending = limits.ending();
      return ending === "exited" ? undefined : ending;
    };
    const fenced = new FencedOutput(fence, stdout);
    const logsDone = new AbortController();
    const logs = client.logs(id, (type, line) => (type === LOG_STDOUT ? fenced.push(line) : stderr.write(line)), logsDone.signal);

    try {
      // Poll until the job ends or a limit ends it for us.
      let state = await client.state(id);
      while (!isTerminal(state.StateType) && !limit()) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, this.settings.pollMs);
        });
        if (!limit()) state = await client.state(id);
      }
      const stopped = limit();
      if (stopped) {
        await this.stop(id, `coderouter: ${stopped}`);
        return runtimeResult("bacalhau", request, started, { stdout, stderr, startupMs, error: limitError(stopped, request), costUsd: this.cost(started) });
      }
      if (state.StateType !== "Completed") {
        // A task killed for memory is the code's failure, not the cluster's.
        const run = (await client.executions(id)).find((e) => e.RunOutput)?.RunOutput;
        if (run && OUT_OF_MEMORY.test(`${stderr.text()}\n${run.stderr}`)) {
          return runtimeResult("bacalhau", request, started, { stdout, stderr, startupMs, error: limitError("memory", request), costUsd: this.cost(started) });
        }
        throw new BacalhauError(`job ${id} ended ${state.StateType} on the cluster${state.Message ? `: ${state.Message}` : ""}`);
      }
      const streamed = await Promise.race([logs, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), LOG_DRAIN_MS))]);
      let resultText = fenced.found && streamed?.complete !== false ? fenced.end() : undefined;
      if (resultText === undefined) resultText = await this.fromRecordedOutput(client, id, fence, stdout, stderr);
      const reported = parseResult(resultText, stderr, request, id);
      const error = reported.error && prepared?.ok ? inUserPositions(reported.error, prepared) : reported.error;
      return runtimeResult("bacalhau", request, started, { output: reported.output, error, stdout, stderr, startupMs, costUsd: this.cost(started) });
    } catch (error) {
      // Whatever went wrong on our side, the job must not run on without us.
      await this.stop(id, "coderouter: the request failed");
      throw error instanceof BacalhauError ? error : new BacalhauError(`job ${id}: ${(error as Error).message}`, undefined, { cause: error });
    } finally {
      limits.dispose();
      logsDone.abort();
      this.running.delete(id);
    }
  }

  /** Stops every job still running. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.running].map((id) => this.stop(id, "coderouter: closed")));
  }

  /**
   * When the live stream was cut: the output the cluster recorded for the execution. Bacalhau keeps
   * only the first few KiB there, so a longer output that was cut cannot be recovered.
   */
  private async fromRecordedOutput(
    client: BacalhauClient,
    id: string,
    fence: string,
    stdout: OutputStream,
    stderr: OutputStream,
  ): Promise<string | undefined> {
    const executions = await client.executions(id);
    const run: Execution["RunOutput"] = executions.find((e) => e.RunOutput)?.RunOutput;
    if (!run) throw new BacalhauError(`job ${id} completed without a recorded execution output, and its logs stream was cut`);
    const marker = `\n${fence}`;
    const at = run.Stdout.indexOf(marker);
    if (at < 0) {
      if (run.StdoutTruncated) throw new BacalhauError(`job ${id}: the logs stream was cut and the cluster kept only the start of the output`);
      // The wrapper itself never finished (killed for memory, say): what it printed is all there is.
      replace(stdout, run.Stdout);
      replace(stderr, run.stderr);
      return undefined;
    }
    replace(stdout, run.Stdout.slice(0, at));
    replace(stderr, run.stderr);
    return run.Stdout.slice(at + marker.length).trim();
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

/** The stream's text becomes the recorded output (streamed parts were incomplete). */
function replace(stream: OutputStream, text: string): void {
  const current = stream.text();
  if (text.startsWith(current)) stream.write(text.slice(current.length));
}

function parseResult(
  text: string | undefined,
  stderr: OutputStream,
  request: NormalizedRequest,
  id: string,
): { output?: JsonValue; error?: ExecutionError } {
  if (text === undefined) {
    // The wrapper did not get to report: the process was ended under it.
    if (OUT_OF_MEMORY.test(stderr.text())) return { error: limitError("memory", request) };
    throw new BacalhauError(`job ${id} completed without reporting a result`);
  }
  try {
    return parseExactJson(text) as { output?: JsonValue; error?: ExecutionError };
  } catch (error) {
    throw new BacalhauError(`job ${id} reported a result that is not JSON`, undefined, { cause: error });
  }
}
