import { execa } from "execa";
import {
  InfrastructureError,
  parseExactJson,
  watchLimits,
  type Artifact,
  type Ending,
  type ExecutionError,
  type OutputStream,
  type JsonValue,
  type NormalizedRequest,
} from "@coderouter/core";

export interface ProcessSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Runs the process as this uid and gid (the sandbox's own). */
  uid?: number;
}

export interface ChildSpec extends ProcessSpec {
  /** Written to the child's stdin, which is then closed. */
  payload: string;
}

export interface ChildOutcome {
  ending: Ending;
  exitCode: number | null;
  signal: string | null;
  /** What the wrapper reported, when it got that far. */
  reported?: { output?: JsonValue; error?: ExecutionError; artifacts?: Artifact[] };
  stdout: OutputStream;
  stderr: OutputStream;
}

/** The result channel is bounded too: a snippet returning gigabytes must not exhaust the host. */
const MAX_RESULT_BYTES = 64 * 1024 * 1024;
/** How long stdio may stay open after the child exits (a grandchild that escaped its group) before it is cut. */
const DRAIN_MS = 200;

/** Process groups alive right now, so a host that exits takes its children with it. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

export function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // ESRCH: the group is already gone.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of liveGroups) killGroup(pid);
  });
}

export function trackGroup(pid: number): void {
  installExitHook();
  liveGroups.add(pid);
}

export function untrackGroup(pid: number): void {
  liveGroups.delete(pid);
}

/** Kills every child process group still running; used by close(). */
export function killAllChildren(): void {
  for (const pid of liveGroups) killGroup(pid);
}

/** Starts a process in a group of its own, with a fourth pipe (fd 3) for the wrapper's messages. */
export function spawnGroup(spec: ProcessSpec) {
  return execa(spec.file, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    extendEnv: false,
    detached: true,
    stdio: ["pipe", "pipe", "pipe", "pipe"],
    buffer: false,
    reject: false,
    encoding: "buffer",
    cleanup: false,
    ...(spec.uid !== undefined ? { uid: spec.uid, gid: spec.uid } : {}),
  });
}

/**
 * Runs one child in a process group of its own and waits for it. Time, abort and output limits end
 * the whole group (grandchildren included), and the group is killed once the child exits, so nothing
 * the code started outlives the execution.
 */
export async function runChild(spec: ChildSpec, request: NormalizedRequest): Promise<ChildOutcome> {
  installExitHook();
  const child = spawnGroup(spec);
  const limits = watchLimits(request, () => child.pid && killGroup(child.pid));
  const { stdout, stderr, end } = limits;
  const started = new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  try {
    await started;
  } catch (error) {
    limits.dispose();
    await child;
    throw new InfrastructureError("subprocess", `could not start ${spec.file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const pid = child.pid!;
  liveGroups.add(pid);

  const resultChunks: Buffer[] = [];
  let resultBytes = 0;
  const resultStream = child.stdio[3] as NodeJS.ReadableStream;
  resultStream.on("data", (chunk: Buffer) => {
    resultBytes += chunk.length;
    if (resultBytes > MAX_RESULT_BYTES) end("output_limit");
    else resultChunks.push(chunk);
  });
  child.stdout!.on("data", (chunk: Buffer) => stdout.write(chunk));
  child.stderr!.on("data", (chunk: Buffer) => stderr.write(chunk));
  child.stdin!.on("error", () => {
    // The code may exit without reading its payload; the outcome says what happened.
  });
  child.stdin!.end(spec.payload);

  try {
    const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    // The child is gone; whatever it left behind in its group goes too.
    killGroup(pid);
    const drained = setTimeout(() => {
      for (const stream of child.stdio) stream?.destroy();
    }, DRAIN_MS);
    await child;
    clearTimeout(drained);
    return {
      ending: limits.ending(),
      exitCode: exit.code,
      signal: exit.signal,
      reported: parseReported(Buffer.concat(resultChunks).toString("utf8")),
      stdout,
      stderr,
    };
  } finally {
    limits.dispose();
    killGroup(pid);
    liveGroups.delete(pid);
  }
}

function parseReported(text: string): ChildOutcome["reported"] {
  if (!text) return undefined;
  try {
    return parseExactJson(text) as ChildOutcome["reported"];
  } catch (error) {
    throw new InfrastructureError("subprocess", `the runner reported an unreadable result: ${(error as Error).message}`);
  }
}
