import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import {
  asyncFunctionSource,
  bashInputVariables,
  bashOutcome,
  bashPayload,
  limitError,
  OutputStream,
  type Artifact,
  pythonRunnerArgs,
  runnerFiles,
  type ExecutionError,
  type JsonValue,
  type LimitKind,
  type NormalizedRequest,
  type PreparedJavaScript,
} from "@coderouter/core";
import type { Sandbox } from "./sdk.js";

/**
 * Code run through envd's process API, for templates without the code interpreter (the seeds'
 * E2B_TEMPLATE=base): the shared wrappers are uploaded once per sandbox, then each execution
 * uploads its payload, runs `python3` or `node` on it with `commands.run` (output streamed, the
 * request's env as the process's environment, never as code), and reads the result the wrapper
 * wrote to file descriptor 3, redirected to a file. Paths are relative to the user's home, where
 * envd starts commands.
 */

const DIR = ".coderouter";
const RUNNERS = `${DIR}/runners`;
/** The wrappers a sandbox needs: the Python runner and its display module, the node runner and what it loads, the bash runner. */
const FILES = [runnerFiles.python, runnerFiles.display, runnerFiles.node, runnerFiles.toOutput, runnerFiles.inspect, runnerFiles.bash];

export interface CommandOutcome {
  stdout: OutputStream;
  stderr: OutputStream;
  output?: JsonValue;
  error?: ExecutionError;
  /** Figures and display() output, as the code interpreter would have shown them. */
  artifacts?: Artifact[];
  /** The sandbox may serve another execution: nothing was killed mid-way. */
  reusable: boolean;
  /** A limit ended the execution. */
  limited?: boolean;
  /** A bash script's exit status. */
  exitCode?: number;
}

const installed = new WeakMap<Sandbox, Promise<void>>();

/** Uploads the wrappers once per sandbox; a failed upload is retried by the next execution. */
export function installWrappers(sandbox: Sandbox): Promise<void> {
  let done = installed.get(sandbox);
  if (!done) {
    done = sandbox.files.write(FILES.map((path) => ({ path: `${RUNNERS}/${basename(path)}`, data: readFileSync(path, "utf8") }))).then(() => undefined);
    done.catch(() => installed.delete(sandbox));
    installed.set(sandbox, done);
  }
  return done;
}

/** Runs one request as a command; a limit (timeout, output, abort) kills the process at once. */
export async function runCommand(
  sandbox: Sandbox,
  request: NormalizedRequest,
  prepared: Extract<PreparedJavaScript, { ok: true }> | undefined,
  installTimeoutMs: number,
  /** A bash script's working directory (a session's /workspace) instead of a fresh one. */
  cwd?: string,
): Promise<CommandOutcome> {
  let limit: LimitKind | undefined;
  let kill = () => {};
  const end = (kind: LimitKind) => {
    if (limit) return;
    limit = kind;
    kill();
  };
  const stdout = new OutputStream(request.maxOutputBytes, request.onStdout, () => end("output_limit"));
  const stderr = new OutputStream(request.maxOutputBytes, request.onStderr, () => end("output_limit"));
  const onAbort = () => end("killed");
  if (request.signal?.aborted) onAbort();
  request.signal?.addEventListener("abort", onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    await installWrappers(sandbox);
    if (request.packages?.length) {
      const failed = await installPackages(sandbox, request, stderr, installTimeoutMs);
      if (failed) return { stdout, stderr, error: failed, reusable: true };
    }
    const { command, payload, result, scratch } = commandFor(request, prepared, cwd);
    await sandbox.files.write(payload.path, payload.data);
    if (limit) return { stdout, stderr, error: limitError(limit, request), reusable: true };
    const handle = await sandbox.commands.run(command, {
      background: true,
      // A script's inputs are variables (bashInputVariables), set beside the request's own.
      envs: request.language === "bash" ? { ...request.env, ...bashInputVariables(request.inputs, request.env) } : (request.env ?? {}),
      // envd's own deadline is a backstop; ours ends the execution on time.
      timeoutMs: request.timeoutMs + 5000,
      onStdout: (text) => stdout.write(text),
      onStderr: (text) => stderr.write(text),
    });
    // On a limit the command's shell is killed and the stream left at once; the code's own process
    // group may live on until the sandbox, never lent again, is killed.
    let limited = () => {};
    const stopped = new Promise<undefined>((resolve) => (limited = () => resolve(undefined)));
    kill = () => {
      limited();
      void handle.kill().catch(() => false);
      void handle.disconnect().catch(() => {});
    };
    if (limit) kill();
    timer = setTimeout(() => end("timeout"), request.timeoutMs);
    const waited = handle.wait().then(
      (done) => ({ exitCode: done.exitCode, status: "" }),
      (error: Error & { exitCode?: number; error?: string }) => {
        if (error.exitCode === undefined && !limit) throw error;
        return { exitCode: error.exitCode ?? -1, status: error.error ?? error.message };
      },
    );
    waited.catch(() => {});
    const ending = await Promise.race([waited, stopped]);
    clearTimeout(timer);
    if (limit || !ending) return { stdout, stderr, error: limitError(limit ?? "killed", request), reusable: false, limited: true };
    const text = await sandbox.files.read(result).catch(() => "");
    for (const path of [payload.path, result, ...(scratch ? [scratch] : [])]) void sandbox.files.remove(path).catch(() => {});
    if (request.language === "bash") {
      // The shell's status is the script's: `wait` gives 128 + n for a script ended by signal n.
      return { stdout, stderr, ...bashOutcome(request, { exitCode: ending.exitCode, channel: text, stdout, stderr }), reusable: true };
    }
    if (text) {
      const reported = JSON.parse(text) as { output?: JsonValue; error?: ExecutionError; artifacts?: Artifact[] };
      return { stdout, stderr, output: reported.output, error: reported.error, artifacts: reported.artifacts, reusable: true };
    }
    // No result: the interpreter ended before it could write one.
    if (/heap out of memory|MemoryError|Cannot allocate memory/.test(stderr.text()))
      return { stdout, stderr, error: limitError("memory", request), reusable: false };
    const how = ending.status || `exit status ${ending.exitCode}`;
    return { stdout, stderr, error: { kind: "runtime", name: "ProcessExit", message: `the process ended (${how}) before it finished` }, reusable: false };
  } finally {
    clearTimeout(timer);
    request.signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * The shell command, the payload file it reads on stdin, the file its fd 3 goes to, and for a bash
 * script the scratch folder it ran in: a working directory (unless a session's is given) and a
 * TMPDIR of its own, made empty for it in a sandbox that may serve other executions.
 */
function commandFor(request: NormalizedRequest, prepared: Extract<PreparedJavaScript, { ok: true }> | undefined, cwd?: string) {
  const id = randomUUID();
  const input = `${DIR}/${id}.json`;
  const result = `${DIR}/${id}.out`;
  if (request.language === "bash") {
    const scratch = `${DIR}/${id}`;
    const home = (path: string) => `"$HOME"/${quote(path)}`;
    const workdir = cwd === undefined ? home(`${scratch}/work`) : quote(cwd);
    const setup = `mkdir -p ${workdir} ${home(`${scratch}/tmp`)} && cd ${workdir} && export TMPDIR=$HOME/${quote(`${scratch}/tmp`)} || exit 125`;
    const run = `bash ${home(`${RUNNERS}/${basename(runnerFiles.bash)}`)} ${home(scratch)} < ${home(input)} 3> ${home(result)}`;
    // A script may leave daemons in sessions of their own, out of its group's reach, in a sandbox
    // that serves other executions: everything it started carries its mark in its environment,
    // and whatever still does once it ended is killed (again, while any turn up).
    const mark = `CODEROUTER_EXECUTION=${id}`;
    const sweep = `for _ in 1 2 3 4 5; do pids=$(grep -lsz -- '^${mark}$' /proc/[0-9]*/environ | cut -d/ -f3); [ -n "$pids" ] || break; kill -KILL $pids 2>/dev/null; done`;
    // memoryMb as RLIMIT_DATA, as locally: the shell's own builtin, so no template needs prlimit.
    const limit = request.memoryMb ? `ulimit -d ${request.memoryMb * 1024} || exit 125; ` : "";
    const command = `${setup}; ${limit}${mark} setsid ${run} & leader=$!; wait $leader; status=$?; kill -KILL -- -$leader 2>/dev/null; ${sweep}; exit $status`;
    return { command, payload: { path: input, data: bashPayload(request) }, result, scratch };
  }
  let argv: string[];
  let payload: object;
  if (request.language === "python") {
    payload = { code: request.code, inputs: request.inputs, memoryMb: request.memoryMb ?? null, timeoutMs: request.timeoutMs };
    argv = ["python3", ...pythonRunnerArgs(RUNNERS)];
  } else {
    const { source, lineOffset } = asyncFunctionSource(prepared!.body);
    payload = { source, lineOffset, filename: prepared!.filename, inputs: request.inputs, timeoutMs: request.timeoutMs };
    argv = ["node", ...(request.memoryMb ? [`--max-old-space-size=${request.memoryMb}`] : []), `${RUNNERS}/${basename(runnerFiles.node)}`];
  }
  // The interpreter leads a process group of its own; whatever it started and left running is
  // killed with the group when it ends, as a local run's children are.
  const run = `${argv.map(quote).join(" ")} < ${quote(input)} 3> ${quote(result)}`;
  const command = `setsid ${run} & leader=$!; wait $leader; status=$?; kill -KILL -- -$leader 2>/dev/null; exit $status`;
  return { command, payload: { path: input, data: JSON.stringify(payload) }, result, scratch: undefined };
}

/** A package installation with the sandbox's own pip or npm; names are shell-quoted arguments. */
async function installPackages(sandbox: Sandbox, request: NormalizedRequest, stderr: OutputStream, timeoutMs: number): Promise<ExecutionError | undefined> {
  const names = request.packages!.map(quote).join(" ");
  const command =
    request.language === "python"
      ? `python3 -m pip install --quiet --disable-pip-version-check --user -- ${names}`
      : `npm install --no-audit --no-fund --silent -- ${names}`;
  const done = await sandbox.commands.run(command, { timeoutMs, onStdout: (text) => stderr.write(text), onStderr: (text) => stderr.write(text) }).then(
    () => undefined,
    (error: Error & { exitCode?: number }) => {
      if (error.exitCode === undefined) throw error;
      return error;
    },
  );
  if (!done) return undefined;
  return { kind: "runtime", name: "PackageInstallError", message: `installing ${request.packages!.join(", ")} failed (see stderr)` };
}

/** One shell word: single-quoted, an inner quote closed, escaped and reopened. */
export function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
