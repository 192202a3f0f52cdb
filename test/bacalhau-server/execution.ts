import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import type { Task } from "./validate.js";

/**
 * One execution of a job on the local compute node, standing in for the docker executor: the
 * image is "pulled" (a delay, once per image) inside the ExecutionTimeout, the task's entrypoint
 * runs as pid 1 of a PID namespace (with a /tmp of its own) with only the task's environment, so
 * nothing it starts outlives it, as in a container; the container's memory limit
 * is enforced on the group's resident memory, and the run ends the way the compute node reports
 * it: any exit code is a completed run with its RunOutput; an OOM kill, a timeout or a lost node
 * is a failed execution with the reason in ComputeState.Message and no RunOutput.
 */

/** models.ExecutionStateType, marshalled as its number. */
export const EXECUTION = { New: 1, BidAccepted: 5, Running: 6, Completed: 9, Failed: 10, Cancelled: 11 } as const;

export interface LogEntry {
  Type: number;
  Line: string;
}

export interface LocalExecution {
  ID: string;
  state: number;
  message: string;
  stdout: string;
  stderr: string;
  /** Set once the run completed: only then does the execution carry a RunOutput. */
  exitCode?: number;
  createTime: number;
  modifyTime: number;
  /** Output chunks in order, for logs streams that join late. */
  log: LogEntry[];
  listeners: Set<(entry: LogEntry | null) => void>;
  process?: ChildProcess;
  workdir?: string;
}

export interface NodeConditions {
  /** Images already on the node: the others take `pullDelayMs` to pull, once. */
  pulled: Set<string>;
  pullDelayMs: number;
  /** The container's memory limit in bytes. */
  memory: number;
  /** Fails the execution with "node lost" after this long, when set. */
  nodeLostAfterMs?: number;
}

export function newExecution(): LocalExecution {
  const now = Date.now() * 1e6;
  return {
    ID: `e-${randomUUID()}`,
    state: EXECUTION.BidAccepted,
    message: "",
    stdout: "",
    stderr: "",
    createTime: now,
    modifyTime: now,
    log: [],
    listeners: new Set(),
  };
}

export const isTerminalExecution = (e: LocalExecution) => e.state >= EXECUTION.Completed;

/** Starts the execution; `ended` is called once, when it is over. */
export function runExecution(execution: LocalExecution, task: Task, node: NodeConditions, ended: (e: LocalExecution) => void): void {
  const timers: NodeJS.Timeout[] = [];
  const end = (state: number, message: string, exitCode?: number) => {
    if (isTerminalExecution(execution)) return;
    execution.state = state;
    execution.message = message;
    execution.exitCode = exitCode;
    execution.modifyTime = Date.now() * 1e6;
    for (const timer of timers) clearTimeout(timer);
    killGroup(execution.process);
    if (execution.workdir) rmSync(execution.workdir, { recursive: true, force: true });
    // Output still in the pipes arrives before the streams end.
    setTimeout(() => {
      for (const listener of execution.listeners) listener(null);
    }, 20);
    ended(execution);
  };
  stopExecution.set(execution, (state, message) => end(state, message));
  execution.state = EXECUTION.Running;
  // The executor's timeout starts before the image is pulled (ExecutorBuffer wraps Start and Wait).
  const timeout = task.Timeouts?.ExecutionTimeout;
  if (timeout) timers.push(setTimeout(() => end(EXECUTION.Failed, `execution timed out after ${timeout}s`), timeout * 1000));
  if (node.nodeLostAfterMs !== undefined) {
    timers.push(setTimeout(() => end(EXECUTION.Failed, "node lost: the compute node stopped responding"), node.nodeLostAfterMs));
  }
  const image = task.Engine.Params.Image!;
  const pull = node.pulled.has(image) ? 0 : node.pullDelayMs;
  timers.push(
    setTimeout(() => {
      node.pulled.add(image);
      if (isTerminalExecution(execution)) return;
      execution.workdir = mkdtempSync(join(tmpdir(), "local-bacalhau-"));
      downloadInputs(task, execution.workdir).then(
        (mounts) => {
          if (!isTerminalExecution(execution)) start(execution, task, node.memory, mounts, end, timers);
        },
        (error: Error) => end(EXECUTION.Failed, `failed to prepare storage: ${error.message}`),
      );
    }, pull),
  );
}

/** What the urlDownload storage provider does: each URL fetched on the node, to Target/<base name>. */
async function downloadInputs(task: Task, workdir: string): Promise<{ source: string; target: string }[]> {
  const mounts: { source: string; target: string }[] = [];
  for (const [i, input] of (task.InputSources ?? []).entries()) {
    const url = input.Source!.Params!.URL!;
    const response = await fetch(url);
    if (!response.ok) throw new Error(`non-200 response from URL (${url}): ${response.status} ${response.statusText}`);
    const dir = join(workdir, `.inputs-${i}`);
    mkdirSync(dir);
    writeFileSync(join(dir, basename(new URL(url).pathname) || randomUUID()), Buffer.from(await response.arrayBuffer()));
    mounts.push({ source: dir, target: input.Target! });
  }
  return mounts;
}

/** Ends a running execution from outside (a stop, a shutdown). */
export function stop(execution: LocalExecution, state: number, message: string): void {
  stopExecution.get(execution)?.(state, message);
}
const stopExecution = new WeakMap<LocalExecution, (state: number, message: string) => void>();

function start(
  execution: LocalExecution,
  task: Task,
  memory: number,
  mounts: { source: string; target: string }[],
  end: (state: number, message: string, exitCode?: number) => void,
  timers: NodeJS.Timeout[],
): void {
  const entrypoint = [...(task.Engine.Params.Entrypoint ?? []), ...(task.Engine.Params.Parameters ?? [])];
  if (!entrypoint.length) return end(EXECUTION.Failed, "the image has no entrypoint to run");
  const [command, ...args] = inContainer(entrypoint, mounts, execution.workdir!);
  const child = spawn(command!, args, {
    // A container's environment: the task's variables and what the image sets.
    env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: "/root", ...(task.Env ?? {}) },
    cwd: execution.workdir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  execution.process = child;
  const emit = (Type: number, chunk: Buffer) => {
    const entry = { Type, Line: chunk.toString() };
    if (Type === 1) execution.stdout += entry.Line;
    else execution.stderr += entry.Line;
    execution.log.push(entry);
    for (const listener of execution.listeners) listener(entry);
  };
  child.stdout!.on("data", (chunk: Buffer) => emit(1, chunk));
  child.stderr!.on("data", (chunk: Buffer) => emit(2, chunk));
  child.on("error", (error) => end(EXECUTION.Failed, `failed to start container: ${error.message}`));
  // The container ends with its main process: whatever that started dies with it.
  child.on("exit", () => killGroup(child));
  let oomKilled = false;
  const watch = setInterval(() => {
    if (child.pid && groupResidentBytes(child.pid) > memory) {
      oomKilled = true;
      killGroup(child);
    }
  }, 25);
  timers.push(watch);
  child.on("close", (code, signal) => {
    clearInterval(watch);
    // docker reports an OOM-killed container as an error, whatever its exit code.
    if (oomKilled) end(EXECUTION.Failed, "memory limit exceeded");
    else end(EXECUTION.Completed, "", code ?? 128 + (signal === "SIGKILL" ? 9 : 15));
  });
}

/**
 * The entrypoint under bubblewrap, as docker starts a container: pid 1 of a PID namespace of its
 * own, so that its end ends every process it left (daemons in sessions of their own included);
 * a /tmp of its own, empty; and each input bind-mounted read-only at its target, as docker mounts
 * input volumes. A target's parent directory is a fresh tmpfs (the host's own stays untouched), so
 * targets must sit under a directory that exists, such as /tmp.
 */
function inContainer(entrypoint: string[], mounts: { source: string; target: string }[], workdir: string): string[] {
  const parents = [...new Set(["/tmp", ...mounts.map((m) => dirname(m.target))])];
  return [
    "bwrap",
    ...["--dev-bind", "/", "/"],
    ...parents.flatMap((parent) => ["--tmpfs", parent]),
    ...["--bind", workdir, workdir],
    ...mounts.flatMap((m) => ["--ro-bind", m.source, m.target]),
    ...["--unshare-pid", "--as-pid-1", "--die-with-parent", "--"],
    ...entrypoint,
  ];
}

function killGroup(child: ChildProcess | undefined): void {
  if (!child?.pid) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

const PAGE = 4096;

/** The resident memory of every process in the group, as a memory cgroup would count it. */
function groupResidentBytes(group: number): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // After the command: state, ppid, pgrp, …; rss is the 24th field of the line.
      if (Number(fields[2]) === group) total += Number(fields[21]) * PAGE;
    } catch {
      // The process ended while we looked.
    }
  }
  return total;
}
