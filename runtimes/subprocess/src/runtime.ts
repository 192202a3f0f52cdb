import { mkdtemp, rm, rmdir } from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  asyncFunctionSource,
  InfrastructureError,
  prepareJavaScript,
  pythonRunnerArgs,
  RuntimeClosedError,
  runnerFiles,
  type Availability,
  type Capabilities,
  type ExecutionError,
  type JsonValue,
  type Language,
  type NormalizedRequest,
  type Runtime,
  type RuntimeResult,
} from "@coderouter/core";
import { killAllChildren, runChild, type ChildOutcome, type ChildSpec } from "./child.js";
import { Interpreters } from "./interpreters.js";

export interface SubprocessSettings {
  pythonBin?: string;
  nodeBin?: string;
}

const LANGUAGES: Language[] = ["python", "javascript", "typescript"];

/**
 * Runs each snippet in a fresh local interpreter process (python3 or node) with a scrubbed
 * environment and a temporary working directory that is removed afterwards.
 */
export class SubprocessRuntime implements Runtime {
  readonly id = "subprocess" as const;
  private readonly interpreters: Interpreters;
  private closed = false;

  constructor(settings: SubprocessSettings) {
    this.interpreters = new Interpreters(settings);
  }

  capabilities(): Capabilities {
    return {
      languages: LANGUAGES,
      isolation: "process",
      maxDurationMs: 6 * 3600_000,
      startupMs: 25,
      costPerSecondUsd: 0,
      network: true,
      packages: "local",
      sessions: false,
      location: "local",
    };
  }

  async availability(): Promise<Availability> {
    const found: string[] = [];
    const missing: string[] = [];
    for (const [name, resolve] of [
      ["python", () => this.interpreters.resolvePython()],
      ["node", () => this.interpreters.resolveNode()],
    ] as const) {
      try {
        const interpreter = await resolve();
        found.push(`${name} ${interpreter.version} (${interpreter.path})`);
      } catch (error) {
        missing.push(`${name}: ${(error as Error).message}`);
      }
    }
    if (!found.length) {
      return { available: false, reason: missing.join("; "), fix: "install python3 or set PYTHON_BIN / NODE_BIN" };
    }
    return {
      available: true,
      reason: found.join(", ") + (missing.length ? `; ${missing.join("; ")}` : ""),
      ...(missing.length ? { fix: "install python3 or set PYTHON_BIN" } : {}),
    };
  }

  async missingModules(language: Language, modules: string[]): Promise<string[]> {
    if (language === "python") {
      const installed = await this.interpreters.pythonModuleNames();
      return modules.filter((m) => !installed.has(m.split(".")[0]!));
    }
    const builtins = new Set(builtinModules);
    return modules.filter((m) => !builtins.has(m.replace(/^node:/, "")));
  }

  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    if (this.closed) throw new RuntimeClosedError(this.id);
    const started = performance.now();
    const finish = (fields: { output?: JsonValue; error?: ExecutionError; stdout?: string; stderr?: string; truncated?: RuntimeResult["truncated"] }): RuntimeResult => ({
      ok: !fields.error,
      runtime: this.id,
      language: request.language,
      output: fields.output ?? null,
      stdout: fields.stdout ?? "",
      stderr: fields.stderr ?? "",
      ...(fields.error ? { error: fields.error } : {}),
      ...(fields.truncated ? { truncated: fields.truncated } : {}),
      metadata: { durationMs: performance.now() - started },
    });

    let payload: string;
    let interpreterArgs: string[];
    let interpreter: string;
    if (request.language === "python") {
      interpreter = (await this.interpreters.resolvePython()).path;
      interpreterArgs = pythonRunnerArgs();
      payload = JSON.stringify({ code: request.code, inputs: request.inputs, memoryMb: request.memoryMb ?? null });
    } else {
      const prepared = prepareJavaScript(request.code, request.language);
      if (!prepared.ok) return finish({ error: prepared.error });
      interpreter = (await this.interpreters.resolveNode()).path;
      interpreterArgs = [
        ...(request.memoryMb ? [`--max-old-space-size=${request.memoryMb}`] : []),
        runnerFiles.node,
      ];
      const { source, lineOffset } = asyncFunctionSource(prepared.body);
      payload = JSON.stringify({ source, lineOffset, filename: prepared.filename, inputs: request.inputs });
    }

    const workdir = await mkdtemp(join(tmpdir(), "coderouter-"));
    try {
      const spec: ChildSpec = {
        file: interpreter,
        args: interpreterArgs,
        cwd: workdir,
        env: childEnv(interpreter, workdir, request.env),
        payload,
      };
      const outcome = await runChild(spec, request);
      const truncated =
        outcome.stdout.truncated || outcome.stderr.truncated
          ? { stdout: outcome.stdout.truncated, stderr: outcome.stderr.truncated }
          : undefined;
      const stdout = outcome.stdout.text();
      const stderr = outcome.stderr.text();
      const reported = outcome.ending === "exited" ? parseResult(outcome.result) : undefined;
      return finish({
        stdout,
        stderr,
        truncated,
        output: reported?.output,
        error: reported ? reported.error : describeEnding(outcome, request, stderr),
      });
    } finally {
      await removeWorkdir(workdir);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    killAllChildren();
  }
}

/** Most snippets write no files: a plain rmdir is several times cheaper than a recursive rm. */
async function removeWorkdir(workdir: string): Promise<void> {
  try {
    await rmdir(workdir);
  } catch {
    await rm(workdir, { recursive: true, force: true });
  }
}

/**
 * Only what an interpreter needs to run: the host's variables (API keys above all) never reach the
 * code; the request's own `env` does.
 */
function childEnv(interpreter: string, workdir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${dirname(interpreter)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: workdir,
    TMPDIR: workdir,
    LANG: "C.UTF-8",
    ...extra,
  };
}

function parseResult(text: string): { output?: JsonValue; error?: ExecutionError } | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as { output?: JsonValue; error?: ExecutionError };
  } catch (error) {
    throw new InfrastructureError("subprocess", `the runner reported an unreadable result: ${(error as Error).message}`);
  }
}

/** Why a child that reported no result ended, as the user should read it. */
function describeEnding(outcome: ChildOutcome, request: NormalizedRequest, stderr: string): ExecutionError | undefined {
  switch (outcome.ending) {
    case "timeout":
      return { kind: "timeout", name: "TimeoutError", message: `the code ran longer than its ${request.timeoutMs} ms timeout and was stopped` };
    case "killed":
      return { kind: "killed", name: "AbortError", message: "the execution was cancelled" };
    case "output_limit":
      return {
        kind: "output_limit",
        name: "OutputLimitError",
        message: `the code wrote more than ${request.maxOutputBytes} bytes to stdout or stderr and was stopped (CODEROUTER_MAX_OUTPUT_BYTES)`,
      };
  }
  if (/heap out of memory|MemoryError|Cannot allocate memory/.test(stderr)) {
    return {
      kind: "memory",
      name: "MemoryError",
      message: `the code ran out of memory${request.memoryMb ? ` (limit ${request.memoryMb} MB)` : ""}`,
    };
  }
  if (outcome.exitCode === 0) return undefined;
  const how = outcome.signal ? `was ended by ${outcome.signal}` : `exited with status ${outcome.exitCode}`;
  return { kind: "runtime", name: "ProcessExit", message: `the process ${how} before it finished` };
}
