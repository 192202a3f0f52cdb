import { readdirSync, readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { childStdio } from "./descriptors.js";
import {
  InfrastructureError,
  checkReported,
  MAX_MESSAGE_BYTES,
  parseUntrusted,
  watchLimits,
  type Reported,
  type Ending,
  type OutputStream,
  type NormalizedRequest,
} from "@coderouter/core";

export interface ProcessSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Runs the process as this uid and gid (the sandbox's own). */
  uid?: number;
  /** Files opened read-only for the process as fds 4, 5, ... (bubblewrap's seccomp program, its runners). */
  files?: string[];
}

export interface ChildSpec extends ProcessSpec {
  /** Written to the child's stdin, which is then closed. */
  payload: string;
  /** fd 3 is the code's own (a bash script's output), not a wrapper's report: handed back as text. */
  rawChannel?: boolean;
  /** The execution's cgroup (ExecutionCgroup), joined before the payload is written, killed when it ends. */
  cgroup?: { join(pid: number): void; kill(): void };
}

export interface ChildOutcome {
  ending: Ending;
  exitCode: number | null;
  signal: string | null;
  /** What the wrapper reported, when it got that far. */
  reported?: Reported;
  /** What fd 3 carried, for a raw channel. */
  channel?: string;
  /** Why the result channel could not be believed (the code wrote to it), when it could not. */
  protocol?: string;
  stdout: OutputStream;
  stderr: OutputStream;
}

/** How long stdio may stay open after the child exits (a grandchild that escaped its group) before it is cut. */
const DRAIN_MS = 200;

/** Process groups alive right now, so a host that exits takes its children with it. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

export function killGroup(pid: number): void {
  signal(-pid, "SIGKILL");
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // ESRCH: already gone.
  }
}

/** Whether a process exists (EPERM: it does, as another user's). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}

/** The children of a process, all its threads', from /proc (CONFIG_PROC_CHILDREN). */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" ").filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/**
 * Kills a process and every descendant it still has, whatever session or group they moved to:
 * each is stopped first (a stopped process can neither fork nor be reparented away by exiting),
 * until no new one turns up, then all are killed.
 */
export function killTree(root: number): void {
  const stopped = new Set<number>();
  let found = [root];
  while (found.length) {
    for (const pid of found) {
      stopped.add(pid);
      signal(pid, "SIGSTOP");
    }
    found = [...stopped].flatMap(childrenOf).filter((pid) => !stopped.has(pid));
  }
  for (const pid of stopped) signal(pid, "SIGKILL");
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

/** Kills these children, their groups and their trees; used by close() for the runtime's own. */
export function killChildren(pids: Iterable<number>): void {
  for (const pid of pids) {
    killTree(pid);
    killGroup(pid);
  }
}

/**
 * Starts a process in a group of its own, with a fourth pipe (fd 3) for the wrapper's messages.
 * Node's own spawn, not execa: with a descriptor the host inherited at a high number, the stdio
 * array runs to that number, and execa's handling of each entry cost ~90 ms per spawn (node: ~1 ms).
 */
export function spawnGroup(spec: ProcessSpec) {
  const { stdio, release } = childStdio(spec.files);
  try {
    const child = spawn(spec.file, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio,
      ...(spec.uid !== undefined ? { uid: spec.uid, gid: spec.uid } : {}),
    });
    // A failure to start is observed by the callers (their "error" or "exit" listeners), never thrown.
    child.on("error", () => {});
    return child;
  } finally {
    // The child has its copies once spawned (spawn is synchronous).
    release();
  }
}

/**
 * Runs one child in a process group of its own and waits for it. Time, abort and output limits end
 * the whole group (grandchildren included), and the group is killed once the child exits, so nothing
 * the code started outlives the execution.
 */
export async function runChild(spec: ChildSpec, request: NormalizedRequest, owned: Set<number>): Promise<ChildOutcome> {
  installExitHook();
  const child = spawnGroup(spec);
  // Once the child has exited and its stdio is closed.
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const { cgroup } = spec;
  // Only while the child runs: once it is reaped its pid may be another process's.
  const limits = watchLimits(request, () => {
    cgroup?.kill();
    if (child.pid && child.exitCode === null && child.signalCode === null) killTree(child.pid);
  });
  const { stdout, stderr, end } = limits;
  const started = new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  try {
    await started;
  } catch (error) {
    limits.dispose();
    for (const stream of child.stdio) stream?.destroy();
    throw new InfrastructureError("subprocess", `could not start ${spec.file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const pid = child.pid!;
  liveGroups.add(pid);
  owned.add(pid);
  try {
    // Before the child reads its code: whatever the code starts is born in the cgroup.
    cgroup?.join(pid);
  } catch (error) {
    killGroup(pid);
    limits.dispose();
    await closed;
    liveGroups.delete(pid);
    owned.delete(pid);
    throw new InfrastructureError("subprocess", `could not move the child into its cgroup: ${(error as Error).message}`, { cause: error });
  }

  const resultChunks: Buffer[] = [];
  let resultBytes = 0;
  const resultStream = child.stdio[3] as NodeJS.ReadableStream;
  resultStream.on("data", (chunk: Buffer) => {
    resultBytes += chunk.length;
    if (resultBytes > MAX_MESSAGE_BYTES) end("output_limit");
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
    // The child is gone; whatever it left behind in its group (and its cgroup) goes too.
    cgroup?.kill();
    killGroup(pid);
    const drained = setTimeout(() => {
      for (const stream of child.stdio) stream?.destroy();
    }, DRAIN_MS);
    await closed;
    clearTimeout(drained);
    return {
      ending: limits.ending(),
      exitCode: exit.code,
      signal: exit.signal,
      ...(spec.rawChannel ? { channel: Buffer.concat(resultChunks).toString("utf8") } : readReported(Buffer.concat(resultChunks).toString("utf8"))),
      stdout,
      stderr,
    };
  } finally {
    limits.dispose();
    cgroup?.kill();
    killGroup(pid);
    liveGroups.delete(pid);
    owned.delete(pid);
  }
}

/** The child's result channel, which its code can write to as well: read as untrusted input. */
function readReported(text: string): Pick<ChildOutcome, "reported" | "protocol"> {
  if (!text) return {};
  const parsed = parseUntrusted(text);
  if (!parsed.ok) return { protocol: parsed.why };
  const checked = checkReported(parsed.value);
  return checked.ok ? { reported: checked.reported } : { protocol: checked.why };
}
