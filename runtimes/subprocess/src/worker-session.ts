import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  asyncFunctionSource,
  InfrastructureError,
  prepareJavaScript,
  pythonRunnerArgs,
  runnersDir,
  runtimeResult,
  ValidationError,
  type FileEntry,
  type InstallOptions,
  type InstallOutcome,
  type JsonValue,
  type Language,
  type NormalizedRequest,
  type PreparedJavaScript,
  type RuntimeResult,
  type RuntimeSession,
  type SessionFiles,
} from "@coderouter/core";
import { interpreterEnv } from "./env.js";
import { ForkServer } from "./fork-server.js";
import { SANDBOX_RUNNERS, SANDBOX_WORKDIR, type Bubblewrap } from "./sandbox.js";
import { outcomeResult } from "./ending.js";
import { nodeDataLimit, withDataLimit, type Confinement } from "./pid-namespace.js";
import { SessionPackages } from "./session-packages.js";

/**
 * A session on a long-lived interpreter (coderouter_session.py, or node_session.cjs) whose globals
 * persist between executions, in a working directory of its own (on the host, or the sandbox's
 * private /work). A limit that stops an execution ends the worker, and with it the session.
 */
export class WorkerSession implements RuntimeSession {
  readonly runtime = "subprocess" as const;
  readonly files: SessionFiles;
  private readonly packages: SessionPackages;

  private constructor(
    readonly language: Language,
    private readonly worker: ForkServer,
    private readonly workdir: string | undefined,
    interpreter: string,
  ) {
    this.files = {
      write: async (path, data) => {
        await this.worker.ask({ files: { op: "write", path, data: Buffer.from(data).toString("base64") } });
      },
      read: async (path) => Buffer.from(((await this.worker.ask({ files: { op: "read", path } })) as { data: string }).data, "base64"),
      list: async (path = ".") => ((await this.worker.ask({ files: { op: "list", path } })) as { entries: FileEntry[] }).entries,
      remove: async (path) => {
        await this.worker.ask({ files: { op: "remove", path } });
      },
    };
    this.packages = new SessionPackages(
      language,
      { python: interpreter, npm: "npm" },
      this.files,
      (dir) => this.addImportPath(dir),
      workdir ?? SANDBOX_WORKDIR,
    );
  }

  static async open(options: {
    language: Language;
    interpreter: string;
    sandbox?: Bubblewrap;
    env?: Record<string, string>;
    network?: boolean;
    memoryMb?: number;
    /** How a plain worker is kept from outliving the session (a PID namespace). */
    confine: Confinement;
  }): Promise<WorkerSession> {
    const dataBytes = options.language === "python" ? undefined : nodeDataLimit(options.memoryMb);
    const args = (dir: string) =>
      options.language === "python"
        ? pythonRunnerArgs(dir, "coderouter_session")
        : [...(options.memoryMb ? [`--max-old-space-size=${options.memoryMb}`] : []), join(dir, "node_session.cjs")];
    if (options.sandbox) {
      const network = Boolean(options.network && options.sandbox.settings.allowNetwork);
      const command = options.sandbox.command(options.interpreter, args(SANDBOX_RUNNERS), options.env ?? {}, network, dataBytes);
      const worker = await ForkServer.start({ ...command, env: {}, cwd: tmpdir() });
      return new WorkerSession(options.language, worker, undefined, options.interpreter);
    }
    const workdir = await mkdtemp(join(tmpdir(), `coderouter-session-${process.pid}-`));
    try {
      const env = interpreterEnv(options.interpreter, { HOME: workdir, TMPDIR: workdir, ...options.env });
      const worker = await ForkServer.start({ ...options.confine(withDataLimit(options.interpreter, args(runnersDir), dataBytes)), env, cwd: workdir });
      return new WorkerSession(options.language, worker, workdir, options.interpreter);
    } catch (error) {
      await rm(workdir, { recursive: true, force: true });
      throw error;
    }
  }

  get alive(): boolean {
    return this.worker.alive;
  }

  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    if (!this.worker.alive) throw new InfrastructureError("subprocess", "the session's worker has ended");
    if (this.worker.busy) throw new ValidationError("the session is busy with another execution; sessions run one at a time");
    const started = performance.now();
    let payload: object;
    let prepared: PreparedJavaScript | undefined;
    if (this.language === "python") {
      payload = { code: request.code, inputs: request.inputs, memoryMb: request.memoryMb ?? null };
    } else {
      prepared = prepareJavaScript(request.code, this.language === "typescript" ? "typescript" : "javascript", { persist: true });
      if (!prepared.ok) return runtimeResult("subprocess", request, started, { error: prepared.error });
      payload = { ...asyncFunctionSource(prepared.body), filename: prepared.filename, inputs: request.inputs };
    }
    return outcomeResult(request, started, await this.worker.run(payload, {}, request), prepared);
  }

  async environment(): Promise<Record<string, JsonValue>> {
    return this.packages.describe((await this.worker.ask({ environment: true })) as Record<string, JsonValue>);
  }

  async installPackages(packages: string[], options: InstallOptions): Promise<InstallOutcome> {
    return this.packages.install(packages, options);
  }

  /** Python only: the directory joins sys.path without a name left in the user's globals. */
  private async addImportPath(dir: string): Promise<void> {
    const code = `(lambda sys, p: (p in sys.path or sys.path.insert(0, p), __import__("importlib").invalidate_caches()))(__import__("sys"), ${JSON.stringify(dir)})`;
    const result = await this.execute({ language: "python", code, inputs: {}, timeoutMs: 10_000, isolation: "none", maxOutputBytes: 64 * 1024 });
    if (!result.ok) throw new InfrastructureError("subprocess", `the session could not add ${dir} to sys.path: ${result.error?.message}`);
  }

  async close(): Promise<void> {
    this.worker.close();
    if (this.workdir) await rm(this.workdir, { recursive: true, force: true });
  }
}
