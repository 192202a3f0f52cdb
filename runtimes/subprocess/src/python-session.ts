import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  InfrastructureError,
  pythonRunnerArgs,
  runnersDir,
  runtimeResult,
  ValidationError,
  type FileEntry,
  type JsonValue,
  type NormalizedRequest,
  type RuntimeResult,
  type RuntimeSession,
  type SessionFiles,
} from "@coderouter/core";
import { ForkServer } from "./fork-server.js";
import type { Bubblewrap } from "./sandbox.js";
import { describeEnding } from "./runtime.js";

/**
 * A Python session: one long-lived worker (coderouter_session.py) whose namespace persists between
 * executions, in a working directory of its own (on the host, or the sandbox's private /work).
 * A limit that stops an execution ends the worker, and with it the session.
 */
export class PythonSession implements RuntimeSession {
  readonly runtime = "subprocess" as const;
  readonly language = "python" as const;
  readonly files: SessionFiles;

  private constructor(
    private readonly worker: ForkServer,
    private readonly workdir: string | undefined,
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
  }

  static async open(
    options: { interpreter: string; sandbox?: Bubblewrap; env?: Record<string, string>; network?: boolean },
  ): Promise<PythonSession> {
    const base = { PATH: `${dirname(options.interpreter)}:/usr/local/bin:/usr/bin:/bin`, LANG: "C.UTF-8" };
    if (options.sandbox) {
      const network = Boolean(options.network && options.sandbox.settings.allowNetwork);
      const command = options.sandbox.command(
        options.sandbox.settings.pythonBin,
        pythonRunnerArgs("/coderouter", "coderouter_session"),
        options.env ?? {},
        network,
      );
      return new PythonSession(await ForkServer.start({ ...command, env: {}, cwd: tmpdir() }, { stopsByKilling: true }), undefined);
    }
    const workdir = await mkdtemp(join(tmpdir(), "coderouter-session-"));
    try {
      const worker = await ForkServer.start({
        file: options.interpreter,
        args: pythonRunnerArgs(runnersDir, "coderouter_session"),
        env: { ...base, HOME: workdir, TMPDIR: workdir, ...options.env },
        cwd: workdir,
      }, { stopsByKilling: true });
      return new PythonSession(worker, workdir);
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
    const outcome = await this.worker.run({ code: request.code, inputs: request.inputs, memoryMb: request.memoryMb ?? null }, {}, request);
    const reported = outcome.ending === "exited" ? outcome.reported : undefined;
    return runtimeResult("subprocess", request, started, {
      stdout: outcome.stdout,
      stderr: outcome.stderr,
      output: reported?.output,
      error: reported ? reported.error : describeEnding(outcome, request),
    });
  }

  async environment(): Promise<Record<string, JsonValue>> {
    return (await this.worker.ask({ environment: true })) as Record<string, JsonValue>;
  }

  async close(): Promise<void> {
    this.worker.close();
    if (this.workdir) await rm(this.workdir, { recursive: true, force: true });
  }
}
