import { Worker, type ResourceLimits } from "node:worker_threads";
import { createDebug, InfrastructureError, RuntimeClosedError } from "@coderouter/core";

const debug = createDebug("coderouter:wasm");

export interface PoolOptions {
  name: string;
  file: URL;
  /** Read for every new worker, so a worker started later can be given what earlier ones produced. */
  workerData: () => unknown;
  size: number;
  /** Executions a worker runs before it is replaced (its interpreter's state is shared between them). */
  maxExecutions: number;
  resourceLimits?: ResourceLimits;
  /** A message a worker sends outside any execution (other than "ready"). */
  onWorkerMessage?: (message: { type: string } & Record<string, unknown>) => void;
}

/** A message from a worker: output as it is printed, then the execution's result. */
export type WorkerMessage = { type: "stdout" | "stderr"; text: string } | ({ type: "result" } & Record<string, unknown>);

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  /** Its interpreter has loaded. */
  loaded: boolean;
  busy: boolean;
  executions: number;
  /** The worker loading to take this one's place when it reaches its execution limit. */
  successor?: Slot;
  /** Receives the messages of the execution running now. */
  listener?: (message: WorkerMessage) => void;
  /** Ends the running execution when the worker dies under it. */
  onExit?: (reason: string) => void;
}

/**
 * Interpreters in worker threads, kept loaded: one execution per worker at a time, a worker that
 * had to be stopped (timeout, abort, output cap) is terminated and replaced, and a new worker
 * starts loading as soon as one goes, so the next request finds one warm.
 *
 * A worker worn out by `maxExecutions` is replaced without a stall: its successor starts loading
 * ahead (from the last tenth of its executions) and the worn worker keeps serving until the
 * successor is ready. Retiring first and loading after cost a 2–3 s stall every 200 executions.
 */
export class WorkerPool {
  private readonly slots = new Set<Slot>();
  private readonly waiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly options: PoolOptions) {}

  /** Workers loaded and idle right now. */
  get warm(): number {
    let n = 0;
    for (const slot of this.slots) if (!slot.busy && slot.loaded) n++;
    return n;
  }

  /** Starts loading workers up to the pool's size. */
  fill(): void {
    while (!this.closed && this.slots.size < this.options.size) this.spawn();
  }

  /**
   * Runs one execution on an idle worker (waiting for one to load if needed): posts `message`,
   * passes every message of the worker to `listener` until the result, and returns the result.
   * `stop()` on the handle terminates the worker (the execution ends) and replaces it. A `fresh`
   * execution gets a worker that has never run anything, and the worker ends with it: nothing it
   * did to the interpreter reaches anyone else. A result with `retire` (the worker's interpreter
   * failed) also ends the worker.
   */
  async run(
    message: unknown,
    listener: (message: WorkerMessage) => void,
    signalStop: (stop: (reason: string) => void) => void,
    fresh = false,
  ): Promise<Extract<WorkerMessage, { type: "result" }>> {
    const slot = await this.acquire(fresh);
    return new Promise((resolve, reject) => {
      let done = false;
      slot.listener = (m) => {
        if (m.type !== "result") return listener(m);
        done = true;
        resolve(m);
        if (!fresh && !m.retire) return this.release(slot);
        slot.onExit = undefined;
        void this.retire(slot, m.retire ? "its interpreter failed" : "served an execution that needed a fresh interpreter");
      };
      slot.onExit = (reason) => {
        done = true;
        reject(new WorkerStopped(reason));
      };
      // Only while this execution runs: the worker may serve the next one by the time a late stop comes.
      signalStop((reason) => {
        if (!done) void this.retire(slot, reason);
      });
      slot.worker.postMessage(message);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter();
    await Promise.all([...this.slots].map((slot) => this.retire(slot, "the runtime was closed")));
  }

  private async acquire(fresh: boolean): Promise<Slot> {
    for (;;) {
      if (this.closed) throw new RuntimeClosedError("wasm");
      this.fill();
      // Reuse prefers a worker already used, keeping untouched ones for executions that need them.
      const free = [...this.slots].filter((s) => !s.busy && (!fresh || s.executions === 0));
      const loaded = free.find((s) => s.loaded && s.executions > 0) ?? free.find((s) => s.loaded);
      // A loaded worker busy with another execution frees up in milliseconds, a loading one in
      // seconds: wait for whichever is first rather than claim the loading one (a worn worker's
      // successor, say). Only when none has loaded does an execution wait on a load.
      const busyLoaded = !fresh && [...this.slots].some((s) => s.busy && s.loaded);
      const idle = loaded ?? (busyLoaded ? undefined : free[0]);
      if (idle) {
        idle.busy = true;
        try {
          await idle.ready;
        } catch (error) {
          this.slots.delete(idle);
          throw new InfrastructureError("wasm", `${this.options.name} could not start: ${(error as Error).message}`, { cause: error });
        }
        return idle;
      }
      // Every worker has run something: one idle used worker makes way for an untouched one.
      const used = fresh ? [...this.slots].find((s) => !s.busy && s.executions > 0) : undefined;
      if (used) void this.retire(used, "made way for a fresh interpreter");
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Wakes every waiter to look again: what was freed may suit only some of them. */
  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private release(slot: Slot): void {
    slot.listener = undefined;
    slot.onExit = undefined;
    slot.busy = false;
    const { maxExecutions } = this.options;
    if (++slot.executions >= maxExecutions - Math.ceil(maxExecutions / 10) && !this.slots.has(slot.successor!)) slot.successor = this.spawn();
    this.retireWorn();
    this.wake();
  }

  /**
   * Retires the idle workers past their execution limit whose successor has loaded and is still in
   * the pool. One whose successor failed to load (or went to an execution that needed a fresh
   * interpreter) serves on, and its next release starts another successor.
   */
  private retireWorn(): void {
    for (const slot of this.slots) {
      if (slot.busy || slot.executions < this.options.maxExecutions) continue;
      const successor = slot.successor;
      if (successor?.loaded && this.slots.has(successor)) void this.retire(slot, "reached its execution limit");
    }
  }

  /** Terminates a worker (ending what it runs) and starts its replacement loading. */
  private async retire(slot: Slot, reason: string): Promise<void> {
    if (!this.slots.delete(slot)) return;
    debug(`${this.options.name} worker retired: ${reason}`);
    slot.onExit?.(reason);
    slot.listener = undefined;
    slot.onExit = undefined;
    await slot.worker.terminate();
    if (!this.closed) this.fill();
    this.wake();
  }

  private spawn(): Slot {
    const worker = new Worker(this.options.file, { workerData: this.options.workerData(), resourceLimits: this.options.resourceLimits, env: {} });
    worker.unref();
    const slot: Slot = { worker, ready: Promise.resolve(), loaded: false, busy: false, executions: 0 };
    slot.ready = new Promise<void>((resolve, reject) => {
      worker.on("message", (m: WorkerMessage | { type: "ready" }) => {
        if (m.type === "ready") {
          slot.loaded = true;
          resolve();
          this.retireWorn();
          this.wake();
        } else if (slot.listener) slot.listener(m);
        else this.options.onWorkerMessage?.(m);
      });
      worker.once("error", (error) => {
        reject(error);
        debug(`${this.options.name} worker failed: ${error.message}`);
        void this.retire(slot, `it failed: ${error.message}`);
      });
      worker.once("exit", (code) => {
        reject(new Error(`the worker exited with code ${code}`));
        void this.retire(slot, `it exited (${code})`);
      });
    });
    slot.ready.catch(() => {});
    this.slots.add(slot);
    return slot;
  }
}

/** The worker running an execution was terminated: by us for a limit, or by its own failure. */
export class WorkerStopped extends Error {}
