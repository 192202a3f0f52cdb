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
  WORKSPACE,
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
import { ForkServer, type ReplyCheck } from "./fork-server.js";
import { runScript } from "./bash-script.js";
import { SANDBOX_RUNNERS, type Bubblewrap, type SandboxWorkspace } from "./sandbox.js";
import { outcomeResult } from "./ending.js";
import { nodeDataLimit, withDataLimit, type Confinement } from "./pid-namespace.js";
import { SessionPackages } from "./session-packages.js";
import { mountSession, unmountSession } from "./workspace-mount.js";

/**
 * The worker a language runs on: JavaScript and TypeScript share one node worker. A bash script
 * is a process of its own per call; a bash session's files go through a python worker.
 */
type Family = "python" | "node";
const familyOf = (language: Language): Family => (language === "javascript" || language === "typescript" ? "node" : "python");

export interface WorkerSessionOptions {
  language: Language;
  /** The interpreter binary of each family, as the worker will run it (inside the sandbox or on the host). */
  interpreters: Record<Family, () => Promise<string>>;
  sandbox?: Bubblewrap;
  env?: Record<string, string>;
  network?: boolean;
  memoryMb?: number;
  /** How a plain worker is kept from outliving the session (a PID namespace). */
  confine: Confinement;
  /** The bash that runs the session's scripts. */
  bash: string;
  /** The runtime's live children (a script's process), killed on close. */
  children: Set<number>;
}

/**
 * A session as a workspace: one working directory, and in it a long-lived interpreter per
 * language (coderouter_session.py, node_session.cjs) started on the language's first call, whose
 * globals persist between executions. Sandboxed, each worker runs in a bubblewrap sandbox of its
 * own, all as the session's one uid, with the session's bounded tmpfs mounts bound at /workspace,
 * /tmp and /dev/shm (workspace-mount.ts); plain workers run in the host directory itself. A limit that stops an execution ends its worker, and with it
 * the session. Files go through the first worker, which confines every path to the workspace.
 * A bash call is a script of its own (bash-script.ts) in the same workspace, sandboxed the same
 * way: the files are what it shares with the session, not variables.
 */
export class WorkerSession implements RuntimeSession {
  readonly runtime = "subprocess" as const;
  readonly languages: readonly Language[] = ["python", "javascript", "typescript", "bash"];
  readonly files: SessionFiles;
  private readonly workers = new Map<Family, Promise<ForkServer>>();
  private readonly started: ForkServer[] = [];
  private packages?: SessionPackages;
  private closed = false;
  /** A bash script is running (it has no worker whose busy flag would say so). */
  private scripting = false;

  private constructor(
    readonly language: Language,
    private readonly options: WorkerSessionOptions,
    /** On the host: the workspace itself when plain; when sandboxed, the folder of its mounts. */
    private readonly dir: string,
    private readonly sandboxed?: SandboxWorkspace,
  ) {
    const ask = async (message: object, check?: ReplyCheck) => (await this.worker(familyOf(language))).ask(message, check);
    this.files = {
      write: async (path, data) => {
        await ask({ files: { op: "write", path, data: Buffer.from(data).toString("base64") } });
      },
      read: async (path) => Buffer.from(((await ask({ files: { op: "read", path } }, checkRead)) as { data: string }).data, "base64"),
      list: async (path = ".") => ((await ask({ files: { op: "list", path } }, checkList)) as { entries: FileEntry[] }).entries,
      remove: async (path) => {
        await ask({ files: { op: "remove", path } });
      },
    };
  }

  static async open(options: WorkerSessionOptions): Promise<WorkerSession> {
    const dir = await mkdtemp(join(tmpdir(), `coderouter-session-${process.pid}-`));
    try {
      let sandboxed: SandboxWorkspace | undefined;
      if (options.sandbox) {
        // Owned by the session's uid alone: its workers write here, no other sandbox can.
        sandboxed = { dir, uid: options.sandbox.takeUid() };
        await mountSession(dir, sandboxed.uid, options.sandbox.settings.diskMb);
      }
      const session = new WorkerSession(options.language, options, dir, sandboxed);
      if (options.language !== "bash") await session.worker(familyOf(options.language));
      return session;
    } catch (error) {
      await removeWorkspace(dir, Boolean(options.sandbox));
      throw error;
    }
  }

  /** `/workspace` in the sandbox; plain workers have no mount namespace to give it, so the host path. */
  get workspace(): string {
    return this.sandboxed ? WORKSPACE : this.dir;
  }

  get alive(): boolean {
    return !this.closed && this.started.every((worker) => worker.alive);
  }

  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    const started = performance.now();
    if (this.closed) throw new InfrastructureError("subprocess", "the session has been closed");
    if (this.scripting || this.started.some((worker) => worker.busy))
      throw new ValidationError("the session is busy with another execution; sessions run one at a time");
    if (request.language === "bash") return this.executeScript(request, started);
    const family = familyOf(request.language);
    let prepared: PreparedJavaScript | undefined;
    let payload: object;
    if (family === "python") {
      payload = { code: request.code, inputs: request.inputs, memoryMb: request.memoryMb ?? null };
    } else {
      prepared = prepareJavaScript(request.code, request.language === "typescript" ? "typescript" : "javascript", { persist: true });
      if (!prepared.ok) return runtimeResult("subprocess", request, started, { error: prepared.error });
      payload = { ...asyncFunctionSource(prepared.body), filename: prepared.filename, inputs: request.inputs };
    }
    const worker = await this.worker(family);
    return outcomeResult(request, started, await worker.run(payload, {}, request), prepared);
  }

  private async executeScript(request: NormalizedRequest, started: number): Promise<RuntimeResult> {
    this.scripting = true;
    try {
      const { sandbox, bash, confine, children } = this.options;
      return await runScript(request, started, {
        bash,
        ...(sandbox && this.sandboxed ? { sandbox, workspace: this.sandboxed } : {}),
        workdir: this.dir,
        confine,
        children,
      });
    } finally {
      this.scripting = false;
    }
  }

  async environment(): Promise<Record<string, JsonValue>> {
    const described = (await (await this.worker(familyOf(this.language))).ask({ environment: true })) as Record<string, JsonValue>;
    return { ...(this.packages?.describe(described) ?? described), workspace: this.workspace, languages: [...this.languages] };
  }

  /** Packages for the session's own language: pip's into the workspace (on sys.path), or npm's node_modules. */
  async installPackages(packages: string[], options: InstallOptions): Promise<InstallOutcome> {
    this.packages ??= new SessionPackages(
      this.language,
      { python: await this.options.interpreters.python(), npm: "npm" },
      this.files,
      (dir) => this.addImportPath(dir),
      this.workspace,
    );
    return this.packages.install(packages, options);
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = [...this.workers.values()].map((worker) =>
      worker.then(
        (w) => w.close(),
        () => {},
      ),
    );
    await Promise.all(pending);
    await removeWorkspace(this.dir, Boolean(this.sandboxed));
  }

  /** The worker of a family, started on its first use. */
  private worker(family: Family): Promise<ForkServer> {
    if (this.closed) return Promise.reject(new InfrastructureError("subprocess", "the session has been closed"));
    let worker = this.workers.get(family);
    if (!worker) {
      worker = this.startWorker(family);
      this.workers.set(family, worker);
      // A worker that failed to start may be tried again on the next call.
      worker.then(
        (w) => this.started.push(w),
        () => this.workers.delete(family),
      );
    }
    return worker.then((w) => {
      if (!w.alive) throw new InfrastructureError("subprocess", "the session's worker has ended");
      return w;
    });
  }

  private async startWorker(family: Family): Promise<ForkServer> {
    const { sandbox, memoryMb } = this.options;
    const interpreter = await this.options.interpreters[family]();
    const dataBytes = family === "python" ? undefined : nodeDataLimit(memoryMb);
    const args = (dir: string) =>
      family === "python"
        ? pythonRunnerArgs(dir, "coderouter_session")
        : [...(memoryMb ? [`--max-old-space-size=${memoryMb}`] : []), join(dir, "node_session.cjs")];
    if (sandbox && this.sandboxed) {
      const network = Boolean(this.options.network && sandbox.settings.allowNetwork);
      const command = sandbox.command(interpreter, args(SANDBOX_RUNNERS), this.options.env ?? {}, network, dataBytes, { workspace: this.sandboxed });
      return ForkServer.start({ ...command, env: {}, cwd: tmpdir() });
    }
    const env = interpreterEnv(interpreter, { HOME: this.dir, TMPDIR: this.dir, ...this.options.env });
    return ForkServer.start({ ...this.options.confine(withDataLimit(interpreter, args(runnersDir), dataBytes)), env, cwd: this.dir });
  }

  /** Python only: the directory joins sys.path without a name left in the user's globals. */
  private async addImportPath(dir: string): Promise<void> {
    const code = `(lambda sys, p: (p in sys.path or sys.path.insert(0, p), __import__("importlib").invalidate_caches()))(__import__("sys"), ${JSON.stringify(dir)})`;
    const result = await this.execute({ language: "python", code, inputs: {}, timeoutMs: 10_000, isolation: "none", maxOutputBytes: 64 * 1024 });
    if (!result.ok) throw new InfrastructureError("subprocess", `the session could not add ${dir} to sys.path: ${result.error?.message}`);
  }
}

/*
 * The files a worker reports are what the session's code says they are (it runs in the worker and
 * can replace the files handler): their contents are its own to invent, their shape is the host's
 * to check, so a forged reply stops the worker instead of reaching the caller as a TypeError or
 * as `entries: 5`.
 */
const checkRead: ReplyCheck = (reply) =>
  typeof (reply as { data?: unknown } | null)?.data === "string" ? undefined : "a files reply without its data (a base64 string)";

const checkList: ReplyCheck = (reply) => {
  const entries = (reply as { entries?: unknown } | null)?.entries;
  const entry = (e: Partial<Record<keyof FileEntry, unknown>> | null) =>
    typeof e?.name === "string" &&
    typeof e.path === "string" &&
    (e.type === "file" || e.type === "directory") &&
    Number.isSafeInteger(e.size) &&
    (e.size as number) >= 0;
  return Array.isArray(entries) && entries.every(entry) ? undefined : "a files listing that is not a list of entries";
};

/** The workspace's files, and its mounts when it has them. */
async function removeWorkspace(dir: string, mounted: boolean): Promise<void> {
  if (mounted) await unmountSession(dir);
  await rm(dir, { recursive: true, force: true });
}
