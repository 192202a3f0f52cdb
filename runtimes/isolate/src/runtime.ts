import type ivm from "isolated-vm";
import {
  asyncFunctionSource,
  InfrastructureError,
  inUserPositions,
  limitError,
  OutputStream,
  prepareJavaScript,
  RuntimeClosedError,
  RuntimeNotInstalledError,
  runtimeResult,
  type Availability,
  type Capabilities,
  type ExecutionError,
  type JsonValue,
  type LimitKind,
  type NormalizedRequest,
  type Runtime,
  type RuntimeResult,
} from "@coderouter/core";
import { FetchBridge } from "./fetch-bridge.js";
import { IsolatePool } from "./pool.js";
import { guestSnapshotSource } from "./snapshot.js";

export interface IsolateSettings {
  poolSize: number;
  memoryMb: number;
  maxExecutions: number;
  fetchAllow: string[];
  fetchTimeoutMs: number;
  fetchMaxBytes: number;
}

type IvmModule = typeof ivm;

const HOST_WRITE = 0;
const HOST_SLEEP = 1;
const HOST_FETCH = 2;

/**
 * JavaScript and TypeScript in a V8 isolate of their own (isolated-vm): no Node APIs, its own heap
 * and memory limit, a fresh context per execution in an isolate kept warm in a pool.
 */
export class IsolateRuntime implements Runtime {
  readonly id = "isolate" as const;
  private ivm?: Promise<IvmModule>;
  private snapshot?: ivm.ExternalCopy<ArrayBuffer>;
  private readonly pools = new Map<number, IsolatePool>();
  private readonly fetchBridge: FetchBridge;
  private closed = false;

  constructor(private readonly settings: IsolateSettings) {
    this.fetchBridge = new FetchBridge(settings.fetchAllow, settings.fetchTimeoutMs, settings.fetchMaxBytes);
  }

  capabilities(): Capabilities {
    return {
      languages: ["javascript", "typescript"],
      isolation: "sandbox",
      maxDurationMs: 5 * 60_000,
      startupMs: 1,
      costPerSecondUsd: 0,
      network: this.settings.fetchAllow.length > 0,
      packages: "none",
      sessions: false,
      location: "local",
    };
  }

  async availability(): Promise<Availability> {
    try {
      await this.load();
      return { available: true, reason: `isolated-vm ready, pool of ${this.settings.poolSize} isolates of ${this.settings.memoryMb} MB` };
    } catch (error) {
      return { available: false, reason: (error as Error).message, fix: "npm install isolated-vm@5.0.4 (needs g++, make and python3 to build)" };
    }
  }

  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    if (this.closed) throw new RuntimeClosedError(this.id);
    if (request.language === "python") throw new InfrastructureError(this.id, "the isolate runs javascript and typescript only");
    const started = performance.now();
    const prepared = prepareJavaScript(request.code, request.language);
    if (!prepared.ok) return runtimeResult(this.id, request, started, { error: prepared.error });
    const ivmModule = await this.load();
    const memoryMb = this.memoryFor(request.memoryMb);
    const lease = this.pool(ivmModule, memoryMb).acquire();
    const isolate = lease.isolate;

    let ending: LimitKind | undefined;
    const end = (why: LimitKind) => {
      if (ending) return;
      ending = why;
      // Never from inside a callback the isolate is blocked on: dispose once control is back here.
      setImmediate(() => !isolate.isDisposed && isolate.dispose());
    };
    const stdout = new OutputStream(request.maxOutputBytes, request.onStdout, () => end("output_limit"));
    const stderr = new OutputStream(request.maxOutputBytes, request.onStderr, () => end("output_limit"));
    // Sleeps still pending when the execution ends belong to timers the code left behind.
    const timers = new Map<NodeJS.Timeout, () => void>();
    const deadline = Date.now() + request.timeoutMs;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const delay = Math.min(Math.max(0, Number(ms) || 0), Math.max(0, deadline - Date.now()));
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, delay);
        timers.set(timer, resolve);
      });
    const references: ivm.Reference[] = [];
    const lend = (value: unknown) => {
      const reference = new ivmModule.Reference(value);
      references.push(reference);
      return reference;
    };
    const network = Boolean(request.network && this.fetchBridge.enabled);
    // The guest's one way to the host; see guest.cjs for the operations.
    const host = new ivmModule.Callback((op: number, stream: number, text: string) => {
      if (op === HOST_WRITE) {
        (stream === 1 ? stderr : stdout).write(String(text));
        return !ending;
      }
      if (op === HOST_SLEEP) return lend(sleep);
      if (op === HOST_FETCH && network) return lend((json: string) => this.fetchBridge.fetch(json, deadline));
      return null;
    });
    const deadlineTimer = setTimeout(() => end("timeout"), request.timeoutMs);
    const onAbort = () => end("killed");
    if (request.signal?.aborted) onAbort();
    request.signal?.addEventListener("abort", onAbort, { once: true });

    let context: ivm.Context | undefined;
    try {
      context = await lease.context;
      const { source, lineOffset } = asyncFunctionSource(prepared.body);
      const raw = (await context.evalClosure(
        `return __coderouter_start($0, $1, $2, $3, $4, ${source})`,
        [host, network, JSON.stringify(request.inputs), JSON.stringify(request.env ?? {}), prepared.filename],
        { result: { promise: true, copy: true }, timeout: request.timeoutMs, filename: prepared.filename, lineOffset },
      )) as string;
      const reported = JSON.parse(raw) as { output?: JsonValue; error?: ExecutionError };
      return finish(reported);
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      if (/memory limit/i.test(message)) ending = "memory";
      if (ending || /disposed/i.test(message)) return finish({});
      if (/execution timed out/i.test(message)) {
        ending = "timeout";
        return finish({});
      }
      if (error instanceof SyntaxError || (error as Error).name === "SyntaxError") {
        return finish({ error: { kind: "syntax", name: "SyntaxError", message, traceback: String((error as Error).stack ?? "") } });
      }
      throw new InfrastructureError(this.id, `the isolate failed: ${message}`, { cause: error });
    } finally {
      clearTimeout(deadlineTimer);
      // An isolate with a host promise still pending would later see it abandoned, in another
      // execution's context: such an isolate is retired, not reused.
      const leftBehind = timers.size > 0;
      for (const timer of timers.keys()) clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
      if (context && !isolate.isDisposed) context.release();
      for (const reference of references) reference.release();
      lease.release(Boolean(ending) || leftBehind);
    }

    function finish(reported: { output?: JsonValue; error?: ExecutionError }): RuntimeResult {
      const limits = { ...request, memoryMb: memoryMb };
      const error = ending ? limitError(ending, limits) : inUserPositions(reported.error, prepared as Extract<typeof prepared, { ok: true }>);
      return runtimeResult("isolate", request, started, { output: reported.output, error, stdout, stderr });
    }
  }

  /** Isolates ready for the next execution at the default memory limit. */
  idleIsolates(): number {
    return this.pools.get(this.settings.memoryMb)?.idleCount ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }

  /** The isolate never gets more than ISOLATE_MEMORY_MB, however much a request asks for. */
  private memoryFor(requested: number | undefined): number {
    return Math.min(requested ?? this.settings.memoryMb, this.settings.memoryMb);
  }

  private pool(ivmModule: IvmModule, memoryMb: number): IsolatePool {
    let pool = this.pools.get(memoryMb);
    if (!pool) {
      // Requests with a smaller limit than the default get a small pool of their own, made on demand.
      const size = memoryMb === this.settings.memoryMb ? this.settings.poolSize : 1;
      pool = new IsolatePool(
        (mb) => new ivmModule.Isolate({ memoryLimit: mb, snapshot: this.snapshot! }),
        { size, memoryMb, maxExecutions: this.settings.maxExecutions },
      );
      this.pools.set(memoryMb, pool);
    }
    return pool;
  }

  /** Loads isolated-vm (a native addon: absent where it could not be built) and bakes the guest snapshot. */
  private load(): Promise<IvmModule> {
    this.ivm ??= import("isolated-vm").then(
      (module) => {
        const ivmModule = (module as { default: IvmModule }).default;
        this.snapshot = ivmModule.Isolate.createSnapshot([{ code: guestSnapshotSource(), filename: "coderouter-guest.js" }]);
        return ivmModule;
      },
      (error) => {
        this.ivm = undefined;
        throw new RuntimeNotInstalledError(this.id, `isolated-vm could not be loaded: ${(error as Error).message}`, { cause: error });
      },
    );
    return this.ivm;
  }
}
