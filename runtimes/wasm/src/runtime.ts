/// <reference path="./webassembly.d.ts" />
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import {
  asyncFunctionSource,
  commonJsSource,
  guestLibrarySource,
  InfrastructureError,
  inUserPositions,
  limitError,
  outputValueLimitError,
  parseExactJson,
  prepareJavaScript,
  RuntimeClosedError,
  runnerFiles,
  runtimeResult,
  type Availability,
  type Capabilities,
  type ExecutionError,
  type JsonValue,
  type LimitKind,
  type NormalizedRequest,
  type Runtime,
  type RuntimeResult,
  watchLimits,
  type Limits,
  type Ending,
} from "@coderouter/core";
import type { WasmSettings } from "./settings.js";
import { runWasi } from "./wasi.js";
import { runWasmEdge } from "./wasmedge.js";
import { WorkerPool, WorkerStopped, type WorkerMessage } from "./worker-pool.js";

/** Time past the timeout the QuickJS worker gets to stop by itself before it is terminated. */
const STOP_GRACE_MS = 2000;
/** Pyodide, QuickJS and WASI preview 1 have no fork or exec: a shell script could not start a command. */
const NO_SHELL = "WebAssembly here (Pyodide, QuickJS, WASI preview 1) has no processes, so no shell to run a script";
const STOP_CODES: Record<Exclude<Ending, "exited">, number> = { timeout: 1, killed: 2, output_limit: 3 };

interface Reported {
  output?: JsonValue;
  error?: ExecutionError;
}

/**
 * WebAssembly engines inside this process, on worker threads: Python in Pyodide, JavaScript and
 * TypeScript in QuickJS. Neither can reach the host: Pyodide's bridge to JavaScript is cut before
 * user code runs and its files are an in-memory filesystem; QuickJS sees only console, timers and
 * the inputs. See the README for what this confines and what it does not.
 */
export class WasmRuntime implements Runtime {
  readonly id = "wasm" as const;
  private pyodide: WorkerPool | undefined;
  private quickjs: WorkerPool | undefined;
  private closed = false;
  private wasmedge: Promise<string | undefined> | undefined;
  /**
   * Pyodide's memory right after loading, before any user code: new interpreters restore it. Given
   * to every worker without a copy on this thread, and read-only by construction: filled here from
   * bytes no worker holds, and each worker drops it before loading (workers/shared-snapshot.mjs).
   */
  private pyodideSnapshot: SharedArrayBuffer | undefined;
  /** Pyodide's WebAssembly, compiled by the worker that made the snapshot; every later one shares its code. */
  private pyodideModule: WebAssembly.Module | undefined;

  constructor(private readonly settings: WasmSettings) {
    if (settings.prewarm) this.pyodidePool().fill();
  }

  capabilities(): Capabilities {
    return {
      languages: ["python", "javascript", "typescript", "wasm"],
      notRun: { bash: NO_SHELL },
      isolation: "sandbox",
      maxDurationMs: 10 * 60_000,
      // A cold Pyodide takes ~2 s to load: until one is warm, the router prefers anything else.
      startupMs: (this.pyodide?.warm ?? 0) > 0 ? 5 : 2000,
      costPerSecondUsd: 0,
      network: false,
      packages: "none",
      oneShotPackages: { installs: false, why: "Pyodide and QuickJS run only what is bundled with them here: nothing installs into them" },
      sessions: false,
      location: "local",
      emulated: true,
    };
  }

  async availability(): Promise<Availability> {
    try {
      await Promise.all([import("pyodide"), import("quickjs-emscripten")]);
    } catch (error) {
      return { available: false, reason: `a WebAssembly engine is missing: ${(error as Error).message}`, fix: "npm install pyodide quickjs-emscripten" };
    }
    const wasmedge = await this.wasmedgeVersion();
    const warm = this.pyodide?.warm ?? 0;
    return {
      available: true,
      reason: `Pyodide (${warm} warm of ${this.settings.pyodideWorkers}; loads on first use), QuickJS, WASI modules under ${wasmedge && this.settings.wasiEngine !== "node" ? wasmedge : "node:wasi"}; WasmEdge ${wasmedge ?? `not found (${this.settings.wasmedgeBin})`}`,
    };
  }

  poolSizes(): Record<string, number> {
    return { "wasm.pyodide": this.pyodide?.warm ?? 0 };
  }

  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    if (this.closed) throw new RuntimeClosedError("wasm");
    if (request.language === "wasm") return this.runModule(request);
    if (request.language === "bash") throw new InfrastructureError("wasm", `the wasm runtime does not run bash: ${NO_SHELL}`);
    return request.language === "python" ? this.runPython(request) : this.runJavaScript(request);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.pyodide?.close(), this.quickjs?.close()]);
  }

  /** A WASI module under WasmEdge when configured or found, else under node:wasi. */
  private async runModule(request: NormalizedRequest): Promise<RuntimeResult> {
    const { wasiEngine, wasmedgeBin } = this.settings;
    if (wasiEngine !== "node") {
      if (await this.wasmedgeVersion()) return runWasmEdge(request, wasmedgeBin);
      if (wasiEngine === "wasmedge") {
        throw new InfrastructureError("wasm", `WASM_WASI_ENGINE=wasmedge, but WasmEdge (${wasmedgeBin}) is not installed: install it or set WASMEDGE_BIN`);
      }
    }
    return runWasi(request);
  }

  private async runPython(request: NormalizedRequest): Promise<RuntimeResult> {
    const started = performance.now();
    const pool = this.pyodidePool();
    // Pyodide cannot be interrupted from outside in the middle of Python: for a limit the worker goes.
    const message = { code: request.code, inputs: JSON.stringify(request.inputs), env: JSON.stringify(request.env ?? {}) };
    // A hostile tenant may patch modules, builtins or the runner itself: at `sandbox` no
    // interpreter that ran anyone else's code runs this one, and none runs anything after it.
    const fresh = request.isolation === "sandbox";
    const outcome = await this.runOn(pool, request, message, (why, terminate) => terminate(why), fresh);
    const streams = { stdout: outcome.limits.stdout, stderr: outcome.limits.stderr };
    if ("limit" in outcome) return runtimeResult("wasm", request, started, { ...streams, error: limitError(outcome.limit, request) });
    const json = String(outcome.result.json);
    if (Buffer.byteLength(json) > request.maxOutputBytes) return runtimeResult("wasm", request, started, { ...streams, error: outputValueLimitError(request) });
    const reported = guestReported(parseExactJson(json) as Reported, PYTHON_REPORTED_KINDS);
    return runtimeResult("wasm", request, started, { ...streams, ...reported });
  }

  private async runJavaScript(request: NormalizedRequest): Promise<RuntimeResult> {
    const started = performance.now();
    const prepared = prepareJavaScript(request.code, request.language);
    if (!prepared.ok) return runtimeResult("wasm", request, started, { error: prepared.error });
    const stopFlag = new SharedArrayBuffer(4);
    const flag = new Int32Array(stopFlag);
    const memoryMb = Math.min(request.memoryMb ?? this.settings.memoryMb, this.settings.memoryMb);
    const { source } = asyncFunctionSource(prepared.body);
    const message = {
      payload: JSON.stringify({ source, filename: prepared.filename, inputs: request.inputs, env: request.env ?? {} }),
      filename: prepared.filename,
      memoryMb,
      timeoutMs: request.timeoutMs,
      stop: stopFlag,
    };
    const outcome = await this.runOn(this.quickjsPool(), request, message, (why, terminate) => {
      // QuickJS's interrupt handler reads the flag: the worker stops the code itself and lives on;
      // terminating it is the backstop.
      Atomics.store(flag, 0, STOP_CODES[why]);
      Atomics.notify(flag, 0);
      setTimeout(() => terminate(why), STOP_GRACE_MS).unref();
    });
    const streams = { stdout: outcome.limits.stdout, stderr: outcome.limits.stderr };
    if ("limit" in outcome) return runtimeResult("wasm", request, started, { ...streams, error: limitError(outcome.limit, request) });
    const { result } = outcome;
    if (result.stop) return runtimeResult("wasm", request, started, { ...streams, error: limitError(result.stop as LimitKind, request) });
    if (typeof result.failure === "string") throw new Error(`QuickJS failed: ${result.failure}`);
    if (result.json !== undefined && Buffer.byteLength(String(result.json)) > request.maxOutputBytes) {
      return runtimeResult("wasm", request, started, { ...streams, error: outputValueLimitError(request) });
    }
    const reported: Reported =
      result.json !== undefined ? guestReported(parseExactJson(String(result.json)) as Reported, ENGINE_REPORTED_KINDS) : { error: engineError(result.error) };
    if (reported.error && /out of memory/i.test(reported.error.message)) reported.error = limitError("memory", { ...request, memoryMb });
    return runtimeResult("wasm", request, started, { ...streams, output: reported.output, error: inUserPositions(reported.error, prepared) });
  }

  /**
   * One execution on a pool's worker with the request's streams, timeout and signal, counted from
   * when a worker is ready (a cold Pyodide's load is not the code's time). `stop` is what a limit
   * does for this engine, given the pool's way to terminate the worker.
   */
  private async runOn(
    pool: WorkerPool,
    request: NormalizedRequest,
    message: unknown,
    stop: (why: Exclude<Ending, "exited">, terminate: (reason: string) => void) => void,
    fresh = false,
  ): Promise<{ limits: Limits } & ({ result: Extract<WorkerMessage, { type: "result" }> } | { limit: LimitKind })> {
    let limits: Limits | undefined;
    try {
      const result = await pool.run(
        message,
        (m) => {
          if (m.type === "stdout") limits!.stdout.write(m.text);
          else if (m.type === "stderr") limits!.stderr.write(m.text);
        },
        (terminate) => {
          limits = watchLimits(request, (why) => stop(why, terminate));
        },
        fresh,
      );
      const ending = limits!.ending();
      return ending === "exited" ? { limits: limits!, result } : { limits: limits!, limit: ending };
    } catch (error) {
      const ending = limits?.ending();
      if (error instanceof WorkerStopped && ending && ending !== "exited") return { limits: limits!, limit: ending };
      throw error;
    } finally {
      limits?.dispose();
    }
  }

  private pyodidePool(): WorkerPool {
    if (this.pyodide) return this.pyodide;
    const runnerSource = readFileSync(runnerFiles.python, "utf8");
    this.pyodide = new WorkerPool({
      name: "Pyodide",
      file: new URL("../workers/pyodide-worker.mjs", import.meta.url),
      workerData: () => ({ runnerSource, snapshot: this.pyodideSnapshot, wasmModule: this.pyodideModule, makeSnapshot: !this.pyodideSnapshot }),
      size: this.settings.pyodideWorkers,
      maxExecutions: this.settings.maxExecutions,
      onWorkerMessage: (m) => {
        // Only the first: a worker sends it before it is ready, so before any tenant's code runs anywhere.
        if (m.type !== "snapshot" || this.pyodideSnapshot || !(m.bytes instanceof Uint8Array) || !(m.module instanceof WebAssembly.Module)) return;
        this.pyodideSnapshot = sharedCopy(m.bytes);
        this.pyodideModule = m.module;
      },
    });
    this.pyodide.fill();
    return this.pyodide;
  }

  private quickjsPool(): WorkerPool {
    this.quickjs ??= new WorkerPool({
      name: "QuickJS",
      file: new URL("../workers/quickjs-worker.mjs", import.meta.url),
      workerData: () => ({ guestSource: quickjsGuestSource() }),
      size: this.settings.quickjsWorkers,
      // Each execution has a QuickJS runtime of its own: the worker itself holds no user state.
      maxExecutions: Number.MAX_SAFE_INTEGER,
      // QuickJS's 3 MB stack (recursion ~16,000 deep, past V8's ~10,800) costs more than the
      // default 4 MB of the thread's own stack, which it runs on: measured, 16 MB holds 4 MB of it.
      resourceLimits: { stackSizeMb: 16 },
    });
    return this.quickjs;
  }

  private wasmedgeVersion(): Promise<string | undefined> {
    this.wasmedge ??= promisify(execFile)(this.settings.wasmedgeBin, ["--version"], { timeout: 5000 }).then(
      ({ stdout }) => stdout.trim(),
      () => undefined,
    );
    return this.wasmedge;
  }
}

/** `bytes` copied into a SharedArrayBuffer: the sender keeps no view of the copy. */
function sharedCopy(bytes: Uint8Array): SharedArrayBuffer {
  const shared = new SharedArrayBuffer(bytes.byteLength);
  new Uint8Array(shared).set(bytes);
  return shared;
}

let guest: string | undefined;
function quickjsGuestSource(): string {
  guest ??= `(() => {
const rules = ${commonJsSource(runnerFiles.toOutput)};
${guestLibrarySource()}
const { runPrepared } = ${commonJsSource(runnerFiles.runPrepared)};
${readFileSync(new URL("../guest/quickjs-guest.js", import.meta.url), "utf8")}
})()`;
  return guest;
}

/** The kinds each engine's runner reports itself (Python's runner reports MemoryError as memory). */
const PYTHON_REPORTED_KINDS = ["runtime", "syntax", "memory"] as const;
const ENGINE_REPORTED_KINDS = ["runtime", "syntax"] as const;

/**
 * A report from inside the engine, where user code could have forged it (json.dumps or
 * JSON.stringify replaced): it may name the code's own failures only; limits are the host's to report.
 */
function guestReported(reported: Reported, kinds: readonly string[]): Reported {
  if (!reported?.error || kinds.includes(reported.error.kind)) return reported;
  return { ...reported, error: { ...reported.error, kind: "runtime" } };
}

/** An error QuickJS threw outside the wrapper (dumped as a plain object). */
function engineError(dumped: unknown): ExecutionError {
  const e = (dumped ?? {}) as { name?: string; message?: string; stack?: string };
  return { kind: "runtime", name: e.name ?? "Error", message: e.message ?? String(dumped), traceback: e.stack ?? "" };
}
