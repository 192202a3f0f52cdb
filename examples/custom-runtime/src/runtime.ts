import { Worker } from "node:worker_threads";
import type { Availability, Capabilities, NormalizedRequest, Runtime, RuntimeResult, SharedSettings } from "coderouter";
import {
  asyncFunctionSource,
  inUserPositions,
  limitError,
  prepareJavaScript,
  RuntimeClosedError,
  runnerFiles,
  runtimeResult,
  watchLimits,
  type ExecutionError,
} from "coderouter/runtime-kit";

const WORKER_FILE = new URL("./worker.cjs", import.meta.url);

/**
 * Runs each execution in a new worker thread: its own V8 heap (capped by resourceLimits), its own
 * globals and a copy of only the request's env; stdout and stderr are the worker's own streams.
 * Threads share the host process, so it claims no isolation ("none"): trusted code only.
 */
export class WorkerRuntime implements Runtime {
  readonly id = "worker";
  private readonly running = new Set<Worker>();
  private closed = false;

  constructor(
    private readonly settings: { memoryMb: number },
    readonly shared: SharedSettings,
  ) {}

  capabilities(): Capabilities {
    return {
      languages: ["javascript", "typescript"],
      isolation: "none",
      maxDurationMs: 60 * 60_000,
      // A worker thread starts a fresh V8 isolate and Node environment: ~15-30 ms on a laptop.
      startupMs: 25,
      costPerSecondUsd: 0,
      network: true,
      packages: "local",
      sessions: false,
      location: "local",
    };
  }

  async availability(): Promise<Availability> {
    return { available: true, reason: `Node ${process.version} worker threads` };
  }

  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    if (this.closed) throw new RuntimeClosedError(this.id);
    const started = performance.now();
    const prepared = prepareJavaScript(request.code, request.language);
    if (!prepared.ok) return runtimeResult(this.id, request, started, { error: prepared.error });
    const { source, lineOffset } = asyncFunctionSource(prepared.body);
    const worker = new Worker(WORKER_FILE, {
      workerData: { source, lineOffset, filename: prepared.filename, inputs: request.inputs, toOutput: runnerFiles.toOutput },
      env: { ...request.env },
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: request.memoryMb ?? this.settings.memoryMb },
    });
    this.running.add(worker);
    const limits = watchLimits(request, () => void worker.terminate());
    worker.stdout.on("data", (chunk: Buffer) => limits.stdout.write(chunk));
    worker.stderr.on("data", (chunk: Buffer) => limits.stderr.write(chunk));
    let reported: { output?: unknown; error?: ExecutionError } | undefined;
    let crash: (Error & { code?: string }) | undefined;
    worker.on("message", (message) => (reported ??= message));
    worker.on("error", (error) => (crash ??= error));
    try {
      // The streams end after the thread does, with everything it wrote.
      await Promise.all([new Promise((resolve) => worker.once("exit", resolve)), ended(worker.stdout), ended(worker.stderr)]);
    } finally {
      limits.dispose();
      this.running.delete(worker);
    }
    const ending = limits.ending();
    const error: ExecutionError | undefined =
      ending !== "exited"
        ? limitError(ending, request)
        : crash?.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? limitError("memory", request)
          : reported
            ? inUserPositions(reported.error, prepared)
            : unsettled(crash);
    return runtimeResult(this.id, request, started, { stdout: limits.stdout, stderr: limits.stderr, output: reported?.output as never, error });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.running].map((worker) => worker.terminate()));
  }
}

const ended = (stream: NodeJS.ReadableStream) => new Promise<void>((resolve) => stream.once("end", resolve).once("close", resolve));

/** The thread ended without a result: its event loop ran dry with the code's promise pending. */
function unsettled(crash: Error | undefined): ExecutionError {
  if (crash) return { kind: "runtime", name: crash.name, message: crash.message };
  return { kind: "runtime", name: "UnsettledPromiseError", message: "the code awaited a promise that nothing is left to settle", traceback: "" };
}
