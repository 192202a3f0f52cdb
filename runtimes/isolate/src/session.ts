import type ivm from "isolated-vm";
import {
  InfrastructureError,
  prepareJavaScript,
  runtimeResult,
  ValidationError,
  type JsonValue,
  type Language,
  type NormalizedRequest,
  type RuntimeResult,
  type RuntimeSession,
  type SessionFiles,
} from "@coderouter/core";
import { runInContext } from "./execution.js";
import type { FetchBridge } from "./fetch-bridge.js";

const NO_FILES = "an isolate session has no filesystem (no /workspace): open the session on runtime subprocess or e2b for files";

/**
 * A JavaScript session: one isolate of its own and one context for the session's life, so globals
 * and top-level declarations persist between executions. A limit that disposes the isolate ends
 * the session.
 */
export class IsolateSession implements RuntimeSession {
  readonly runtime = "isolate" as const;
  /** JavaScript and TypeScript share the session's one context. */
  readonly languages: readonly Language[] = ["javascript", "typescript"];
  readonly workspace = null;
  readonly files: SessionFiles = {
    write: async () => {
      throw new ValidationError(NO_FILES);
    },
    read: async () => {
      throw new ValidationError(NO_FILES);
    },
    list: async () => {
      throw new ValidationError(NO_FILES);
    },
    remove: async () => {
      throw new ValidationError(NO_FILES);
    },
  };
  private busy = false;

  constructor(
    private readonly ivmModule: typeof ivm,
    private readonly isolate: ivm.Isolate,
    private readonly context: ivm.Context,
    readonly language: Language,
    private readonly memoryMb: number,
    private readonly fetchBridge: FetchBridge,
  ) {}

  get alive(): boolean {
    return !this.isolate.isDisposed;
  }

  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    if (!this.alive) throw new InfrastructureError("isolate", "the session's isolate has ended");
    if (this.busy) throw new ValidationError("the session is busy with another execution; sessions run one at a time");
    this.busy = true;
    try {
      const started = performance.now();
      const language = request.language === "typescript" ? "typescript" : "javascript";
      const prepared = prepareJavaScript(request.code, language, { persist: true });
      if (!prepared.ok) return runtimeResult("isolate", request, started, { error: prepared.error });
      const run = await runInContext({
        ivm: this.ivmModule,
        isolate: this.isolate,
        context: this.context,
        prepared,
        request,
        memoryMb: this.memoryMb,
        fetchBridge: this.fetchBridge,
        started,
      });
      return run.result;
    } finally {
      this.busy = false;
    }
  }

  async environment(): Promise<Record<string, JsonValue>> {
    return {
      language: this.language,
      engine: `V8 ${process.versions.v8}`,
      runtime: "isolated-vm 5.0.4",
      memoryMb: this.memoryMb,
      filesystem: false,
      packages: [],
    };
  }

  async close(): Promise<void> {
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }
}
