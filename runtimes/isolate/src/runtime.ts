import type ivm from "isolated-vm";
import {
  InfrastructureError,
  prepareJavaScript,
  RuntimeClosedError,
  RuntimeNotInstalledError,
  runtimeResult,
  type Availability,
  type Capabilities,
  type Language,
  type NormalizedRequest,
  type RuntimeResult,
  type RuntimeSession,
  type SessionOptions,
  type SessionRuntime,
} from "@coderouter/core";
import { runInContext } from "./execution.js";
import { FetchBridge } from "./fetch-bridge.js";
import { IsolatePool } from "./pool.js";
import { IsolateSession } from "./session.js";
import { guestSnapshotSource } from "./snapshot.js";

export interface IsolateSettings {
  poolSize: number;
  memoryMb: number;
  maxExecutions: number;
  fetchAllow: string[];
  fetchTimeoutMs: number;
  fetchMaxBytes: number;
  fetchAllowPrivate: boolean;
  wasm: boolean;
}

type IvmModule = typeof ivm;

/** A V8 isolate has no processes and no host APIs: nothing in it could start a shell. */
const NO_SHELL = "a V8 isolate has no processes, so no shell to run a script";

/**
 * JavaScript and TypeScript in a V8 isolate of their own (isolated-vm): no Node APIs, its own heap
 * and memory limit, a fresh context per execution in an isolate kept warm in a pool.
 */
export class IsolateRuntime implements SessionRuntime {
  readonly id = "isolate" as const;
  private ivm?: Promise<IvmModule>;
  private snapshot?: ivm.ExternalCopy<ArrayBuffer>;
  private readonly pools = new Map<number, IsolatePool>();
  private readonly fetchBridge: FetchBridge;
  private readonly sessions = new Set<IsolateSession>();
  private closed = false;
  /** Set when V8 lost control of an isolate (isolated-vm's onCatastrophicError): nothing runs here any more. */
  private catastrophe?: string;

  constructor(private readonly settings: IsolateSettings) {
    this.fetchBridge = new FetchBridge({
      allow: settings.fetchAllow,
      allowPrivate: settings.fetchAllowPrivate,
      timeoutMs: settings.fetchTimeoutMs,
      maxBytes: settings.fetchMaxBytes,
    });
  }

  capabilities(): Capabilities {
    return {
      languages: ["javascript", "typescript"],
      notRun: { bash: NO_SHELL },
      // WebAssembly memory lives outside the isolate's heap limit: with it, memoryMb no longer holds.
      isolation: this.settings.wasm ? "process" : "sandbox",
      maxDurationMs: 5 * 60_000,
      startupMs: 1,
      costPerSecondUsd: 0,
      network: this.settings.fetchAllow.length > 0,
      packages: "none",
      sessions: true,
      location: "local",
    };
  }

  async availability(): Promise<Availability> {
    if (this.catastrophe) return { available: false, reason: `V8 lost control of an isolate: ${this.catastrophe}`, fix: "restart the process" };
    try {
      await this.load();
      return { available: true, reason: `isolated-vm ready, pool of ${this.settings.poolSize} isolates of ${this.settings.memoryMb} MB` };
    } catch (error) {
      return { available: false, reason: (error as Error).message, fix: "npm install isolated-vm@5.0.4 (needs g++, make and python3 to build)" };
    }
  }

  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    if (this.closed) throw new RuntimeClosedError(this.id);
    this.refuseAfterCatastrophe();
    if (request.language !== "javascript" && request.language !== "typescript") throw this.refuse(request.language);
    const started = performance.now();
    const prepared = prepareJavaScript(request.code, request.language);
    if (!prepared.ok) return runtimeResult(this.id, request, started, { error: prepared.error });
    const ivmModule = await this.load();
    const memoryMb = this.memoryFor(request.memoryMb);
    const lease = this.pool(ivmModule, memoryMb).acquire();
    let dirty = true;
    let context: ivm.Context | undefined;
    try {
      context = await lease.context;
      const run = await runInContext({ ivm: ivmModule, isolate: lease.isolate, context, prepared, request, memoryMb, fetchBridge: this.fetchBridge, started });
      dirty = run.dirty;
      return run.result;
    } finally {
      if (context && !lease.isolate.isDisposed) context.release();
      lease.release(dirty);
    }
  }

  /** A JavaScript session: one isolate of its own and one context kept for the session's life. */
  async openSession(options: SessionOptions): Promise<RuntimeSession> {
    if (this.closed) throw new RuntimeClosedError(this.id);
    this.refuseAfterCatastrophe();
    if (options.language !== "javascript" && options.language !== "typescript") throw this.refuse(options.language);
    const ivmModule = await this.load();
    const memoryMb = this.memoryFor(options.memoryMb);
    const isolate = this.newIsolate(ivmModule, memoryMb);
    const context = await isolate.createContext();
    const session = new IsolateSession(ivmModule, isolate, context, options.language, memoryMb, this.fetchBridge);
    this.sessions.add(session);
    return session;
  }

  poolSizes(): Record<string, number> {
    let idle = 0;
    for (const pool of this.pools.values()) idle += pool.idleCount;
    return { isolates_idle: idle, sessions: [...this.sessions].filter((s) => s.alive).length };
  }

  /** Isolates ready for the next execution at the default memory limit. */
  idleIsolates(): number {
    return this.pools.get(this.settings.memoryMb)?.idleCount ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const session of this.sessions) await session.close();
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
      pool = new IsolatePool((mb) => this.newIsolate(ivmModule, mb), { size, memoryMb, maxExecutions: this.settings.maxExecutions });
      this.pools.set(memoryMb, pool);
    }
    return pool;
  }

  private newIsolate(ivmModule: IvmModule, memoryMb: number): ivm.Isolate {
    return new ivmModule.Isolate({
      memoryLimit: memoryMb,
      snapshot: this.snapshot!,
      // isolated-vm's advice: such an isolate's resources are unrecoverable, stop serving. The
      // runtime turns unavailable (the router falls back) and the embedder is told; ending the
      // process is the embedder's decision, not a library's.
      onCatastrophicError: (message) => {
        this.catastrophe ??= message;
        process.emitWarning(
          `coderouter isolate: V8 lost control of an isolate (${message}); the isolate runtime stops serving`,
          "CoderouterIsolateCatastrophe",
        );
      },
    });
  }

  private refuse(language: Language): InfrastructureError {
    return new InfrastructureError(this.id, `the isolate runs javascript and typescript only${language === "bash" ? `: ${NO_SHELL}` : ""}`);
  }

  private refuseAfterCatastrophe(): void {
    if (this.catastrophe)
      throw new InfrastructureError(this.id, `the isolate runtime stopped after V8 lost control of an isolate (${this.catastrophe}): restart the process`);
  }

  /** Loads isolated-vm (a native addon: absent where it could not be built) and bakes the guest snapshot. */
  private load(): Promise<IvmModule> {
    this.ivm ??= import("isolated-vm").then(
      (module) => {
        const ivmModule = (module as { default: IvmModule }).default;
        this.snapshot = ivmModule.Isolate.createSnapshot([{ code: guestSnapshotSource({ wasm: this.settings.wasm }), filename: "coderouter-guest.js" }]);
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
