import { posix } from "node:path";
import {
  bashInputVariables,
  checkPackageSpecs,
  FileNotFoundError,
  InfrastructureError,
  OutputStream,
  PackageInstallError,
  packageNames,
  prepareJavaScript,
  runtimeResult,
  ValidationError,
  WORKSPACE,
  workspacePath,
  type FileEntry,
  type InstallOptions,
  type InstallOutcome,
  type JsonValue,
  type Language,
  type NormalizedRequest,
  type RuntimeResult,
  type RuntimeSession,
  type SessionFiles,
} from "@coderouter/core";
import { javascriptCell, preludeCell, pythonCell } from "./cells.js";
import { E2BServiceError, serviceError } from "./errors.js";
import { INSTALL_TIMEOUT_MS, runInContext, sandboxResult } from "./execution.js";
import { installWrappers, quote, runCommand } from "./commands.js";
import { runCell } from "./interpreter.js";
import { log } from "./log.js";
import type { Context, Sandbox, SandboxClass } from "./sdk.js";
import type { E2BSettings } from "./settings.js";

/** Room past the session's idle timeout (and a running execution) before E2B may end the sandbox. */
const LIFE_MARGIN_MS = 30_000;
/** The sandbox's timeout is moved only when it would change by more than this: not one API call per execution. */
const STEP_MS = 5_000;
/** The installer's output kept for the outcome (it is streamed whole). */
const INSTALL_OUTPUT_BYTES = 256 * 1024;
/** Puts the user's site-packages on the kernel's path, leaving no name in the kernel's globals. */
const REFRESH_PATH_CELL = `(lambda site, importlib: (site.addsitedir(site.getusersitepackages()), importlib.invalidate_caches()))(__import__("site"), __import__("importlib"))`;
/** Files larger than this are uploaded as a stream (envd's raw upload), not a buffered form. */
const STREAM_BYTES = 1024 * 1024;

/** The code context a language runs in; bash runs as a command (commands.run), in no context. */
type Kernel = "python" | "javascript";
const kernelOf = (language: Language): Kernel => (language === "javascript" || language === "typescript" ? "javascript" : "python");

export interface E2BSessionOptions {
  language: Language;
  idleTimeoutMs: number;
  env?: Record<string, string>;
  network?: boolean;
}

/**
 * A session on E2B: a sandbox of its own (never pooled, never lent to other work), `/workspace`
 * made in it as the working directory of every code context, and one context per language made
 * on the language's first call, whose kernel keeps the session's state. Files go through envd
 * (the SDK's `sandbox.files`). The sandbox's own timeout follows the session's idle timeout, so
 * a session whose host died still ends on E2B; closing, idling out, or a limit that stops an
 * execution kills the sandbox.
 */
export class E2BSession implements RuntimeSession {
  readonly runtime = "e2b" as const;
  readonly workspace = WORKSPACE;
  readonly files: SessionFiles;
  private readonly contexts = new Map<Kernel, Promise<Context>>();
  private expiresAt: number;
  private busy = false;
  private ended = false;
  private killing?: Promise<void>;

  private constructor(
    private readonly sandbox: Sandbox,
    readonly language: Language,
    readonly languages: readonly Language[],
    private readonly settings: E2BSettings,
    private readonly idleTimeoutMs: number,
    lifeMs: number,
    private readonly onKill: () => void,
  ) {
    this.expiresAt = Date.now() + lifeMs;
    this.files = {
      write: (path, data) => this.write(path, data),
      read: (path) => this.read(path),
      list: (path = ".") => this.list(path),
      remove: (path) => this.remove(path),
    };
  }

  /** Creates the session's sandbox, its /workspace and the context of its first language. */
  static async open(
    Sandbox: SandboxClass,
    settings: E2BSettings,
    options: E2BSessionOptions,
    counts: { created: number; killed: number },
  ): Promise<E2BSession> {
    const lifeMs = options.idleTimeoutMs + LIFE_MARGIN_MS;
    const sandbox = await Sandbox.create(settings.template, {
      timeoutMs: lifeMs,
      allowInternetAccess: Boolean(options.network),
      ...(options.env ? { envs: options.env } : {}),
      metadata: { createdBy: "coderouter", coderouterSession: "true" },
    }).catch((error: unknown) => Promise.reject(serviceError(error, "create a session's sandbox", settings)));
    counts.created++;
    const languages: Language[] = [...settings.languages];
    const session = new E2BSession(sandbox, options.language, languages, settings, options.idleTimeoutMs, lifeMs, () => counts.killed++);
    try {
      await sandbox.files.makeDir(WORKSPACE).catch((error: unknown) => Promise.reject(serviceError(error, `make ${WORKSPACE} in the sandbox`, settings)));
      // The bash runner is uploaded ahead of a script; a kernel is made ahead of code.
      if (options.language === "bash")
        await installWrappers(sandbox).catch((error: unknown) => Promise.reject(serviceError(error, "upload the bash runner", settings)));
      else await session.context(kernelOf(options.language));
      log.create(`session sandbox ${sandbox.sandboxId} ready (${options.language}, idle timeout ${options.idleTimeoutMs} ms)`);
      return session;
    } catch (error) {
      await session.close();
      throw error;
    }
  }

  get alive(): boolean {
    return !this.ended;
  }

  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    if (this.ended) throw new InfrastructureError("e2b", "the session's sandbox has been killed");
    if (this.busy) throw new ValidationError("the session is busy with another execution; sessions run one at a time");
    this.busy = true;
    const started = performance.now();
    try {
      if (request.language === "bash") return await this.executeScript(request, started);
      let cell: string;
      let prepared: ReturnType<typeof prepareJavaScript> | undefined;
      if (request.language === "python") cell = pythonCell(request, { session: true });
      else {
        prepared = prepareJavaScript(request.code, request.language, { persist: true });
        if (!prepared.ok) return runtimeResult("e2b", request, started, { error: prepared.error });
        cell = javascriptCell(request, prepared);
      }
      await this.keepAlive(request.timeoutMs);
      const context = await this.context(kernelOf(request.language));
      const run = await runInContext(this.sandbox, context.id, request, cell, performance.now() - started, this.settings).catch((error: unknown) => {
        void this.close();
        throw error instanceof E2BServiceError ? error : serviceError(error, "run the code", this.settings);
      });
      // A limit interrupted the kernel mid-cell, or the kernel is gone: the session's state cannot be trusted.
      if (run.limited || !run.reusable) await this.close();
      return sandboxResult(request, started, run, this.sandbox.sandboxId, this.settings, prepared);
    } finally {
      this.busy = false;
    }
  }

  /** A bash script: commands.run in the session's sandbox, with /workspace its working directory. */
  private async executeScript(request: NormalizedRequest, started: number): Promise<RuntimeResult> {
    bashInputVariables(request.inputs, request.env);
    await this.keepAlive(request.timeoutMs);
    const run = await runCommand(this.sandbox, request, undefined, INSTALL_TIMEOUT_MS, WORKSPACE).catch((error: unknown) => {
      void this.close();
      throw error instanceof E2BServiceError ? error : serviceError(error, "run the script", this.settings);
    });
    // A limit killed the script's shell mid-way: what it started may live on, so the sandbox goes.
    if (run.limited) await this.close();
    return sandboxResult(request, started, run, this.sandbox.sandboxId, this.settings);
  }

  /**
   * pip inside the session's sandbox (`--user`, so the sandbox's user owns what it installs), the
   * installer's output streamed; the Python kernel then finds the packages. The sandbox is the
   * session's alone, so nothing installed reaches other work.
   */
  async installPackages(packages: string[], options: InstallOptions): Promise<InstallOutcome> {
    if (this.language !== "python") {
      throw new PackageInstallError(packages, `an E2B ${this.language} session installs no packages: open a python session for pip`);
    }
    checkPackageSpecs("python", packages);
    if (this.ended) throw new InfrastructureError("e2b", "the session's sandbox has been killed");
    if (this.busy) throw new ValidationError("the session is busy with another call; sessions run one at a time");
    this.busy = true;
    const timeoutMs = options.timeoutMs ?? INSTALL_TIMEOUT_MS;
    const stdout = new OutputStream(INSTALL_OUTPUT_BYTES, options.onStdout);
    const stderr = new OutputStream(INSTALL_OUTPUT_BYTES, options.onStderr);
    const output = () => ({ stdout: stdout.text(), stderr: stderr.text() });
    try {
      await this.keepAlive(timeoutMs);
      const names = packages.map(quote).join(" ");
      await this.sandbox.commands
        .run(`python3 -m pip install --user --no-input --disable-pip-version-check -- ${names}`, {
          cwd: WORKSPACE,
          timeoutMs,
          onStdout: (text) => stdout.write(text),
          onStderr: (text) => stderr.write(text),
          ...(options.signal ? { signal: options.signal } : {}),
        })
        .catch((error: Error & { exitCode?: number }) => {
          if (error.exitCode === undefined) throw serviceError(error, `install ${packages.join(", ")}`, this.settings);
          const last = stderr.text().trim().split("\n").pop() ?? "";
          throw new PackageInstallError(packages, `pip exited with status ${error.exitCode}${last ? `: ${last}` : ""}`, output());
        });
      const installed = await this.installedVersions(packageNames(packages));
      // A kernel started before the user's site-packages existed has it off its path.
      if (this.contexts.has("python")) {
        const context = await this.context("python");
        await runCell(this.sandbox, REFRESH_PATH_CELL, { contextId: context.id, signal: AbortSignal.timeout(this.settings.requestTimeoutMs) });
      }
      return { requested: packages, installed, ...output() };
    } finally {
      this.busy = false;
    }
  }

  /** Name → version of each installed distribution, as the sandbox's Python reports them. */
  private async installedVersions(names: string[]): Promise<Record<string, string>> {
    const script = "import json, sys\nfrom importlib.metadata import version\nprint(json.dumps({n: version(n) for n in sys.argv[1:]}))";
    const done = await this.sandbox.commands
      .run(`python3 -c ${quote(script)} ${names.map(quote).join(" ")}`, { cwd: WORKSPACE })
      .catch((error: unknown) => Promise.reject(serviceError(error, "read the installed versions", this.settings)));
    return JSON.parse(done.stdout.trim().split("\n").pop() ?? "{}") as Record<string, string>;
  }

  async environment(): Promise<Record<string, JsonValue>> {
    return {
      language: this.language,
      languages: [...this.languages],
      workspace: WORKSPACE,
      cwd: WORKSPACE,
      sandboxId: this.sandbox.sandboxId,
      template: this.settings.template,
      kernels: [...this.contexts.keys()],
    };
  }

  /** Kills the sandbox once; every context, process and file of the session goes with it. */
  close(): Promise<void> {
    this.ended = true;
    this.killing ??= this.sandbox.kill().then(
      () => {
        this.onKill();
        log.kill(`session sandbox ${this.sandbox.sandboxId} killed`);
      },
      (error: Error) => log.kill(`killing session sandbox ${this.sandbox.sandboxId} failed (E2B ends it at its timeout): ${error.message}`),
    );
    return this.killing;
  }

  /** The context of a kernel, made (with the prelude, in /workspace) on its first use. */
  private context(kernel: Kernel): Promise<Context> {
    let context = this.contexts.get(kernel);
    if (!context) {
      context = this.makeContext(kernel);
      this.contexts.set(kernel, context);
      context.catch(() => this.contexts.delete(kernel));
    }
    return context;
  }

  private async makeContext(kernel: Kernel): Promise<Context> {
    const { requestTimeoutMs } = this.settings;
    const context = await this.sandbox
      .createCodeContext({ language: kernel, cwd: WORKSPACE, requestTimeoutMs })
      .catch((error: unknown) => Promise.reject(serviceError(error, `create the session's ${kernel} context`, this.settings)));
    const prelude = await runCell(this.sandbox, preludeCell(kernel), { contextId: context.id, signal: AbortSignal.timeout(requestTimeoutMs) }).catch(
      (error: unknown) => Promise.reject(serviceError(error, `prepare the session's ${kernel} context`, this.settings)),
    );
    if (prelude.error)
      throw new E2BServiceError(`the code interpreter could not prepare a ${kernel} context: ${prelude.error.name}: ${prelude.error.value}`, false);
    return context;
  }

  /**
   * Keeps the sandbox alive for this execution and the idle time after it, and no longer: E2B
   * ends it on its own if this process is gone by then.
   */
  private async keepAlive(executionMs: number): Promise<void> {
    const lifeMs = executionMs + this.idleTimeoutMs + LIFE_MARGIN_MS;
    if (Math.abs(Date.now() + lifeMs - this.expiresAt) < STEP_MS) return;
    await this.sandbox.setTimeout(lifeMs).catch((error: unknown) => Promise.reject(serviceError(error, "extend the session's sandbox", this.settings)));
    this.expiresAt = Date.now() + lifeMs;
  }

  /** The sandbox path of a files-API path, confined to /workspace. */
  private path(path: string): string {
    return posix.join(WORKSPACE, workspacePath(path));
  }

  private async write(path: string, data: string | Uint8Array): Promise<void> {
    const target = this.path(path);
    if (target === WORKSPACE) throw new ValidationError(`${path} is the workspace itself, not a file`);
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    // A large file goes as a stream, which envd writes as it arrives, never whole in a form.
    const body = bytes.length > STREAM_BYTES ? new Blob([bytes]).stream() : new Blob([bytes]);
    await this.sandbox.files.write(target, body).catch((error: unknown) => Promise.reject(this.fileError(error, path, "write")));
  }

  private async read(path: string): Promise<Buffer> {
    const stream = await this.sandbox.files
      .read(this.path(path), { format: "stream" })
      .catch((error: unknown) => Promise.reject(this.fileError(error, path, "read")));
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  private async list(path: string): Promise<FileEntry[]> {
    const entries = await this.sandbox.files.list(this.path(path)).catch((error: unknown) => Promise.reject(this.fileError(error, path, "list")));
    return entries.map((entry) => ({
      name: entry.name,
      path: posix.relative(WORKSPACE, entry.path),
      type: entry.type === "dir" ? "directory" : "file",
      size: entry.type === "dir" ? 0 : entry.size,
    }));
  }

  private async remove(path: string): Promise<void> {
    const target = this.path(path);
    if (target === WORKSPACE) throw new ValidationError("the working directory itself cannot be removed");
    // envd's Remove is os.RemoveAll: a missing path would be no error there.
    const exists = await this.sandbox.files.exists(target).catch((error: unknown) => Promise.reject(this.fileError(error, path, "remove")));
    if (!exists) throw new FileNotFoundError(path);
    await this.sandbox.files.remove(target).catch((error: unknown) => Promise.reject(this.fileError(error, path, "remove")));
  }

  /** envd's answers as the files API's errors: a missing path, a wrong kind of path, or the service. */
  private fileError(error: unknown, path: string, action: string): Error {
    const name = (error as Error)?.name ?? "";
    if (name === "FileNotFoundError" || name === "NotFoundError") return new FileNotFoundError(path);
    if (name === "InvalidArgumentError") return new ValidationError(`cannot ${action} ${path}: ${(error as Error).message}`);
    return serviceError(error, `${action} ${path} in the session's sandbox`, this.settings);
  }
}
