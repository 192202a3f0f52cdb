import { randomUUID } from "node:crypto";
import { z } from "zod";
import {
  executionResult,
  ExecutionRequestSchema,
  PackageInstallError,
  PackageSpecSchema,
  SessionClosedError,
  ValidationError,
  type ExecutionResult,
  type InstallOptions,
  type InstallOutcome,
  type JsonValue,
  type NormalizedRequest,
  type RuntimeSession,
  type SessionFiles,
  workspacePath,
} from "@coderouter/core";
import { withModuleHint } from "./module-hint.js";

const request = ExecutionRequestSchema.shape;

export const SessionRequestSchema = z
  .object({
    language: request.language,
    runtime: z.string().optional(),
    isolation: request.isolation,
    /** Each execution's timeout, unless the execution gives its own. */
    timeoutMs: request.timeoutMs,
    /** The session closes itself after this long without a call. */
    idleTimeoutMs: z
      .number()
      .int()
      .positive()
      .max(7 * 24 * 3600_000)
      .optional(),
    memoryMb: z.number().int().min(16).optional(),
    env: request.env,
    network: request.network,
  })
  .strict();
export type SessionRequest = z.input<typeof SessionRequestSchema>;

/**
 * What one execution in a session may set: the request's own fields for it. `language` runs the
 * call in that language's interpreter of the session (the session's own language by default).
 */
export const SessionExecuteSchema = ExecutionRequestSchema.pick({ language: true, inputs: true, timeoutMs: true, signal: true, onStdout: true, onStderr: true })
  .partial({ language: true })
  .strict();
export type SessionExecuteOptions = z.input<typeof SessionExecuteSchema>;

export interface SessionInfo {
  id: string;
  runtime: string;
  language: string;
  /** The languages its executions may use, each with an interpreter of its own over the same files. */
  languages: string[];
  /** Its working directory as code sees it (`/workspace` where the runtime can), null without files. */
  workspace: string | null;
  alive: boolean;
  createdAt: string;
  lastUsedAt: string;
  idleTimeoutMs: number;
}

/**
 * A session as callers see it: state kept between executions by one runtime session, calls taken
 * one at a time, an idle timer that closes it, and a clear SessionClosedError once it has ended.
 */
export class Session {
  readonly id = randomUUID();
  readonly files: SessionFiles;
  private readonly createdAt = new Date();
  private lastUsedAt = new Date();
  private idleTimer?: NodeJS.Timeout;
  private ended?: string;

  constructor(
    private readonly inner: RuntimeSession,
    private readonly defaults: {
      timeoutMs: number;
      idleTimeoutMs: number;
      maxOutputBytes: number;
      isolation: NormalizedRequest["isolation"];
      memoryMb?: number;
      network?: boolean;
    },
    private readonly onEnd: (session: Session) => void,
  ) {
    const guard =
      <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        this.touch();
        return fn(...args);
      };
    // `/workspace/...` and relative paths name the same files on every runtime.
    this.files = {
      write: guard((path: string, data: string | Uint8Array) => inner.files.write(workspacePath(path), data)),
      read: guard((path: string) => inner.files.read(workspacePath(path))),
      list: guard((path?: string) => inner.files.list(workspacePath(path ?? "."))),
      remove: guard((path: string) => inner.files.remove(workspacePath(path))),
    };
    this.armIdleTimer();
  }

  get runtime(): string {
    return this.inner.runtime;
  }

  get language(): string {
    return this.inner.language;
  }

  info(): SessionInfo {
    return {
      id: this.id,
      runtime: this.inner.runtime,
      language: this.inner.language,
      languages: [...this.inner.languages],
      workspace: this.inner.workspace,
      alive: !this.ended && this.inner.alive,
      createdAt: this.createdAt.toISOString(),
      lastUsedAt: this.lastUsedAt.toISOString(),
      idleTimeoutMs: this.defaults.idleTimeoutMs,
    };
  }

  async execute(code: string, options: SessionExecuteOptions = {}): Promise<ExecutionResult> {
    const parsed = SessionExecuteSchema.safeParse(options);
    if (!parsed.success || typeof code !== "string") {
      const issues = parsed.success ? [] : parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
      throw new ValidationError(
        `invalid session execution: ${typeof code !== "string" ? "code must be a string" : issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
        issues,
      );
    }
    const language = parsed.data.language ?? this.inner.language;
    if (!this.inner.languages.includes(language)) {
      throw new ValidationError(
        `a ${this.inner.runtime} session runs ${this.inner.languages.join(", ")}, not ${language}: open the session on a runtime that has ${language}`,
        [{ path: "language", message: `one of ${this.inner.languages.join(", ")}` }],
      );
    }
    this.touch();
    const started = performance.now();
    const result = await this.inner.execute({
      language,
      code,
      inputs: parsed.data.inputs ?? {},
      timeoutMs: parsed.data.timeoutMs ?? this.defaults.timeoutMs,
      isolation: this.defaults.isolation,
      maxOutputBytes: this.defaults.maxOutputBytes,
      ...(this.defaults.memoryMb ? { memoryMb: this.defaults.memoryMb } : {}),
      ...(parsed.data.signal ? { signal: parsed.data.signal } : {}),
      ...(parsed.data.onStdout ? { onStdout: parsed.data.onStdout } : {}),
      ...(parsed.data.onStderr ? { onStderr: parsed.data.onStderr } : {}),
    });
    if (!this.inner.alive) void this.end(`its worker was stopped by ${result.error?.kind ?? "a failure"}`);
    return executionResult(withModuleHint(result, code), {
      requested: this.inner.runtime,
      selected: this.inner.runtime,
      reason: `session ${this.id}`,
      candidates: [],
      attempts: [{ runtime: this.inner.runtime, outcome: result.ok ? "ok" : "code_error", durationMs: performance.now() - started }],
    });
  }

  /**
   * What code in this session runs with: the interpreter and its version, installed packages with
   * versions, platform and working directory (from the runtime), and the limits in force.
   */
  async environment(): Promise<Record<string, JsonValue>> {
    this.touch();
    const described = await this.inner.environment();
    return {
      ...described,
      sessionId: this.id,
      runtime: this.inner.runtime,
      limits: {
        timeoutMs: this.defaults.timeoutMs,
        memoryMb: this.defaults.memoryMb ?? null,
        maxOutputBytes: this.defaults.maxOutputBytes,
        isolation: this.defaults.isolation,
        idleTimeoutMs: this.defaults.idleTimeoutMs,
        network: this.defaults.network ?? false,
      },
    };
  }

  /**
   * Installs packages into this session only (pip into its own virtual environment, npm into its
   * node_modules); later executions import them. Rejects with PackageInstallError naming the package.
   */
  async installPackages(packages: string[], options: InstallOptions = {}): Promise<InstallOutcome> {
    const specs = z.array(PackageSpecSchema).min(1).max(100).safeParse(packages);
    if (!specs.success) {
      const issues = specs.error.issues.map((i) => ({ path: `packages.${i.path.join(".")}`, message: i.message }));
      throw new ValidationError(`invalid packages: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues);
    }
    this.touch();
    if (!this.inner.installPackages) {
      throw new PackageInstallError(
        specs.data,
        `${this.inner.runtime} sessions cannot install packages: open the session on the subprocess runtime (runtime: "subprocess") or on e2b`,
      );
    }
    return this.inner.installPackages(specs.data, { timeoutMs: this.defaults.timeoutMs, ...options });
  }

  async close(): Promise<void> {
    await this.end("closed");
  }

  /** Ends the session once: frees its worker and its files. */
  async end(reason: string): Promise<void> {
    if (this.ended) return;
    this.ended = reason;
    clearTimeout(this.idleTimer);
    this.onEnd(this);
    await this.inner.close();
  }

  private touch(): void {
    if (this.ended) throw new SessionClosedError(this.id, this.ended);
    if (!this.inner.alive) {
      void this.end("its worker is gone");
      throw new SessionClosedError(this.id, "its worker is gone");
    }
    this.lastUsedAt = new Date();
    this.armIdleTimer();
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.end(`idle for ${this.defaults.idleTimeoutMs} ms`), this.defaults.idleTimeoutMs);
    // An idle session alone must not keep the host process running.
    this.idleTimer.unref();
  }
}
