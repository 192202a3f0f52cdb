import type { ChildProcess } from "node:child_process";
import { InfrastructureError, parseExactJson, ValidationError, watchLimits, type NormalizedRequest, type OutputStream } from "@coderouter/core";
import {
  killGroup,
  spawnGroup,
  trackGroup,
  untrackGroup,
  type ChildOutcome,
  type ProcessSpec,
} from "./child.js";


const FENCE_LENGTH = 32;

/**
 * Holds back the last few bytes of a stream until the fence token is known, so that the token the
 * server writes after each child never reaches the user's output.
 */
class FencedStream {
  private held = Buffer.alloc(0);
  private fence?: Buffer;
  fenced = false;

  constructor(readonly output: OutputStream) {}

  write(chunk: Buffer): void {
    if (this.fenced) return;
    this.held = Buffer.concat([this.held, chunk]);
    if (this.fence) return this.settle();
    const keep = Math.max(0, this.held.length - FENCE_LENGTH);
    if (keep > 0) {
      this.output.write(this.held.subarray(0, keep));
      this.held = this.held.subarray(keep);
    }
  }

  expect(fence: string): void {
    this.fence = Buffer.from(fence);
    this.settle();
  }

  private settle(): void {
    const at = this.held.indexOf(this.fence!);
    if (at === -1) return;
    this.output.write(this.held.subarray(0, at));
    this.held = Buffer.alloc(0);
    this.fenced = true;
  }
}

interface Execution {
  stdout: FencedStream;
  stderr: FencedStream;
  result?: unknown;
  exit?: { code: number; signal: number };
  settle: () => void;
  /** The worker ended: the execution's outcome if a limit ended it, an infrastructure failure otherwise. */
  ended: () => void;
}

/**
 * One warm Python (coderouter_forkserver.py) that forks a fresh child per execution, one
 * execution at a time. A server that dies is reported and never reused.
 */
export class ForkServer {
  private current?: Execution;
  private control = "";
  alive = true;
  busy = false;

  private constructor(
    private readonly child: ChildProcess,
    /** How a limit stops the code: the fork-server kills its child; a session worker is killed whole. */
    private readonly stopsByKilling: boolean,
  ) {
    child.stdout!.on("data", (chunk: Buffer) => {
      this.current?.stdout.write(chunk);
      this.current?.settle();
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      this.current?.stderr.write(chunk);
      this.current?.settle();
    });
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (chunk: Buffer) => this.onControl(chunk));
    child.stdin!.on("error", () => {});
    child.once("exit", () => {
      this.alive = false;
      untrackGroup(child.pid!);
      this.current?.ended();
      this.asked?.reject(new InfrastructureError("subprocess", "the session's worker ended"));
    });
  }

  /**
   * An idle server must not keep its host process alive (a script that never calls close() still
   * exits); a busy one must, or a top-level await on its execution would find nothing to wait for.
   */
  private hold(busy: boolean): void {
    const handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr, this.child.stdio[3]] as unknown as {
      ref?(): void;
      unref?(): void;
    }[];
    for (const handle of handles) (busy ? handle?.ref : handle?.unref)?.call(handle);
  }

  get usable(): boolean {
    return this.alive && !this.busy;
  }

  static async start(command: ProcessSpec, { stopsByKilling = false } = {}): Promise<ForkServer> {
    const child = spawnGroup(command);
    trackGroup(child.pid!);
    // The execa promise settles when the server ends; its outcome is observed through "exit".
    child.catch(() => {});
    const server = new ForkServer(child, stopsByKilling);
    server.hold(false);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new InfrastructureError("subprocess", "the Python fork-server did not start within 15 s")), 15_000);
      server.onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new InfrastructureError("subprocess", `the Python fork-server exited at start (status ${code})`));
      });
    }).catch((error) => {
      server.close();
      throw error;
    });
    return server;
  }

  private onReady?: () => void;
  private asked?: { resolve: (reply: unknown) => void; reject: (error: Error) => void };

  /** A request answered with {reply} or {reply_error} (a session worker's files and environment). */
  ask(message: object): Promise<unknown> {
    if (!this.alive) return Promise.reject(new InfrastructureError("subprocess", "the session's worker has ended"));
    if (this.busy || this.asked) return Promise.reject(new ValidationError("the session is busy with another call; wait for it to finish"));
    this.hold(true);
    return new Promise((resolve, reject) => {
      this.asked = { resolve, reject };
      this.send(message);
    }).finally(() => {
      this.asked = undefined;
      this.hold(false);
    });
  }

  /** Runs one payload in a fresh forked child; resolves as runChild does for a cold process. */
  run(payload: object, env: Record<string, string>, request: NormalizedRequest): Promise<ChildOutcome> {
    this.busy = true;
    this.hold(true);
    const limits = watchLimits(request, () => (this.stopsByKilling ? this.close() : this.send({ kill: true })));
    const { stdout, stderr } = limits;
    return new Promise<ChildOutcome>((resolve, reject) => {
      const finish = () => {
        limits.dispose();
        this.current = undefined;
        this.busy = false;
        this.hold(false);
      };
      const execution: Execution = {
        stdout: new FencedStream(stdout),
        stderr: new FencedStream(stderr),
        settle: () => {
          if (!execution.exit || !execution.stdout.fenced || !execution.stderr.fenced) return;
          finish();
          resolve({
            ending: limits.ending(),
            exitCode: execution.exit.code,
            signal: execution.exit.signal ? `signal ${execution.exit.signal}` : null,
            reported: execution.result as ChildOutcome["reported"],
            stdout,
            stderr,
          });
        },
        ended: () => {
          finish();
          if (limits.ending() === "exited") {
            reject(new InfrastructureError("subprocess", "the Python worker died during the execution"));
            return;
          }
          resolve({ ending: limits.ending(), exitCode: null, signal: "SIGKILL", stdout, stderr });
        },
      };
      this.current = execution;
      this.send({ run: payload, env });
    });
  }

  close(): void {
    this.alive = false;
    if (this.child.pid) killGroup(this.child.pid);
  }

  private send(message: object): void {
    this.child.stdin!.write(`${JSON.stringify(message)}\n`);
  }

  private onControl(chunk: Buffer): void {
    this.control += chunk.toString("utf8");
    let newline: number;
    while ((newline = this.control.indexOf("\n")) !== -1) {
      const line = this.control.slice(0, newline);
      this.control = this.control.slice(newline + 1);
      const message = parseExactJson(line) as {
        ready?: boolean;
        result?: unknown;
        exit?: number;
        signal?: number;
        fence?: string;
        reply?: unknown;
        reply_error?: { message: string };
      };
      if (message.ready) this.onReady?.();
      if ("reply" in message) this.asked?.resolve(message.reply);
      if ("reply_error" in message) this.asked?.reject(new ValidationError(message.reply_error!.message));
      const execution = this.current;
      if (!execution) continue;
      if ("result" in message) execution.result = message.result;
      if (message.fence !== undefined) {
        execution.exit = { code: message.exit ?? 0, signal: message.signal ?? 0 };
        execution.stdout.expect(message.fence);
        execution.stderr.expect(message.fence);
        execution.settle();
      }
    }
  }
}
