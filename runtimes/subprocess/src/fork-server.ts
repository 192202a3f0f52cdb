import type { ChildProcess } from "node:child_process";
import {
  FileNotFoundError,
  checkReported,
  InfrastructureError,
  MAX_MESSAGE_BYTES,
  parseUntrusted,
  ValidationError,
  watchLimits,
  type NormalizedRequest,
  type OutputStream,
} from "@coderouter/core";
import { killGroup, killTree, spawnGroup, trackGroup, untrackGroup, type ChildOutcome, type ProcessSpec } from "./child.js";

const FENCE_LENGTH = 32;

/**
 * Standard-library modules a Python fork-server does not preload, since their at-fork work and size
 * cost every child copy-on-write faults (asyncio brings threading's at-fork hooks and 9 MB; random
 * reseeds), but takes in once a request it serves uses them: a workload that uses them then pays that
 * cost instead of their import (~60 ms for asyncio) in every child.
 */
const WARMABLE = ["asyncio", "random", "statistics"].map((name) => ({
  name,
  imported: new RegExp(String.raw`^[ \t]*(?:import[ \t][^\n#]*\b${name}\b|from[ \t]+${name}\b)`, "m"),
}));

/** The modules of WARMABLE that Python code imports (top-level await counts as asyncio): a hint, so a loose match. */
export function modulesToWarm(code: string): string[] {
  const wanted = WARMABLE.filter(({ imported }) => imported.test(code)).map(({ name }) => name);
  if (!wanted.includes("asyncio") && /\bawait\b/.test(code)) wanted.push("asyncio");
  return wanted;
}

/** Why a reply is not what was asked for (e.g. "a files reply without its data"), or undefined. */
export type ReplyCheck = (reply: unknown) => string | undefined;

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
  result?: ChildOutcome["reported"];
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
  /** Settles when the worker's process has exited (whatever it held can then be let go). */
  readonly ended: Promise<void>;

  /** Why the worker was stopped for what it wrote on its control channel, once it was. */
  private violation?: string;
  /** Modules this server was asked to take in. */
  private readonly warmed = new Set<string>();
  private ready = false;

  private constructor(private readonly child: ChildProcess) {
    let exited = () => {};
    this.ended = new Promise((resolve) => {
      exited = resolve;
    });
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
      exited();
      untrackGroup(child.pid!);
      this.current?.ended();
      const why = this.violation ? `the session's worker sent ${this.violation} and was stopped` : "the session's worker ended";
      // The worker, and with it the session's state, is gone: asking again cannot help.
      this.asked?.reject(new InfrastructureError("subprocess", why, { isRetryable: false }));
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

  static async start(command: ProcessSpec): Promise<ForkServer> {
    const child = spawnGroup(command);
    trackGroup(child.pid!);
    const server = new ForkServer(child);
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
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(new InfrastructureError("subprocess", `the Python fork-server could not start: ${error.message}`));
      });
    }).catch((error) => {
      server.close();
      throw error;
    });
    return server;
  }

  private onReady?: () => void;
  private asked?: { resolve: (reply: unknown) => void; reject: (error: Error) => void; check?: ReplyCheck };

  /**
   * A request answered with {reply} or {reply_error} (a session worker's files and environment).
   * The worker runs the session's code, which can answer for it: `check` says why a reply is not
   * of the shape asked for, and such a reply stops the worker like any other forged message.
   */
  ask(message: object, check?: ReplyCheck): Promise<unknown> {
    if (!this.alive) return Promise.reject(new InfrastructureError("subprocess", "the session's worker has ended"));
    if (this.busy || this.asked) return Promise.reject(new ValidationError("the session is busy with another call; wait for it to finish"));
    this.hold(true);
    return new Promise((resolve, reject) => {
      this.asked = { resolve, reject, ...(check ? { check } : {}) };
      this.send(message);
    }).finally(() => {
      this.asked = undefined;
      this.hold(false);
    });
  }

  /**
   * Runs one payload in a fresh forked child; resolves as runChild does for a cold process.
   * `warm` names modules of WARMABLE the code uses: the server takes them in after this execution,
   * so the next children find them loaded.
   */
  run(payload: object, env: Record<string, string>, request: NormalizedRequest, warm: string[] = []): Promise<ChildOutcome> {
    this.busy = true;
    this.hold(true);
    // The host ends an execution by killing its worker whole: a message asking the server to kill
    // its child would depend on a process the code may have stopped or taken over.
    const limits = watchLimits(request, () => this.close());
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
            reported: execution.result,
            stdout,
            stderr,
          });
        },
        ended: () => {
          finish();
          if (this.violation && limits.ending() === "exited") {
            resolve({ ending: "exited", exitCode: null, signal: "SIGKILL", protocol: this.violation, stdout, stderr });
            return;
          }
          if (limits.ending() === "exited") {
            reject(new InfrastructureError("subprocess", "the Python worker died during the execution"));
            return;
          }
          resolve({ ending: limits.ending(), exitCode: null, signal: "SIGKILL", stdout, stderr });
        },
      };
      this.current = execution;
      const asked = warm.filter((name) => !this.warmed.has(name));
      for (const name of asked) this.warmed.add(name);
      // First in the line, where the server reads it without decoding the tenant's bytes after it.
      this.send(asked.length ? { warm: asked.join(","), run: payload, env } : { run: payload, env });
    });
  }

  close(): void {
    if (this.alive && this.child.pid) killTree(this.child.pid);
    this.alive = false;
    if (this.child.pid) killGroup(this.child.pid);
  }

  private send(message: object): void {
    this.child.stdin!.write(`${JSON.stringify(message)}\n`);
  }

  /**
   * Messages on fd 3. User code can write there (a session runs in the worker itself; a forked child
   * might reach it), so each is checked against the protocol's shape and order. Anything else stops
   * the worker: the execution ends with a protocol error and the host carries on.
   */
  private onControl(chunk: Buffer): void {
    if (this.violation) return;
    this.control += chunk.toString("utf8");
    let newline: number;
    while ((newline = this.control.indexOf("\n")) !== -1) {
      const line = this.control.slice(0, newline);
      this.control = this.control.slice(newline + 1);
      const why = this.accept(line);
      if (why) return this.stop(why);
    }
    if (this.control.length > MAX_MESSAGE_BYTES) this.stop(`a message of more than ${MAX_MESSAGE_BYTES} bytes`);
  }

  /** Acts on one control message; returns why it breaks the protocol, if it does. */
  private accept(line: string): string | undefined {
    const parsed = parseUntrusted(line);
    if (!parsed.ok) return parsed.why;
    const message = parsed.value as Record<string, unknown>;
    if (!message || typeof message !== "object" || Array.isArray(message)) return "a message that is not an object";
    const execution = this.current;
    if (message.ready === true && !this.ready) {
      this.ready = true;
      this.onReady?.();
    } else if ("reply" in message && this.asked) {
      const why = this.asked.check?.(message.reply);
      if (why) return why;
      this.asked.resolve(message.reply);
    } else if ("reply_error" in message && this.asked) {
      const error = message.reply_error as { kind?: unknown; message?: unknown } | null;
      const why = typeof error?.message === "string" ? error.message : "the session refused the request";
      this.asked.reject(error?.kind === "not_found" ? new FileNotFoundError(why.replace(/ does not exist$/, "")) : new ValidationError(why));
    } else if ("result" in message && execution && !execution.result && !execution.exit) {
      const checked = checkReported(message.result);
      if (!checked.ok) return checked.why;
      execution.result = checked.reported;
    } else if (typeof message.fence === "string" && /^[0-9a-f]{32}$/.test(message.fence) && execution && !execution.exit) {
      const code = Number.isInteger(message.exit) ? (message.exit as number) : 0;
      const signal = Number.isInteger(message.signal) ? (message.signal as number) : 0;
      execution.exit = { code, signal };
      execution.stdout.expect(message.fence);
      execution.stderr.expect(message.fence);
      execution.settle();
    } else {
      return "a message out of the protocol's order or shape";
    }
    return undefined;
  }

  private stop(why: string): void {
    this.violation = why;
    this.control = "";
    this.close();
  }
}
