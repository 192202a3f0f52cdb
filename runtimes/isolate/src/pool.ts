import type ivm from "isolated-vm";

export interface PoolOptions {
  /** Isolates kept warm however quiet it is: the floor of the pool. */
  size: number;
  /** The most isolates the pool keeps (idle and leased) when demand is high: its ceiling. */
  max: number;
  memoryMb: number;
  /** An isolate is retired after this many executions, so heap growth never accumulates. */
  maxExecutions: number;
  /** How long a burst's demand is remembered before the pool shrinks back towards it. */
  windowMs?: number;
}

export interface Lease {
  isolate: ivm.Isolate;
  /** A fresh context, made ahead of demand while the isolate waited in the pool; never reused. */
  context: Promise<ivm.Context>;
  /** Gives the isolate back; `retire` disposes it instead (a limit was hit, or it is worn out). */
  release(retire: boolean): void;
}

interface Warm {
  isolate: ivm.Isolate;
  executions: number;
  context: Promise<ivm.Context>;
}

/**
 * Isolates of one memory limit, made ahead of demand. One execution holds an isolate at a time, so
 * a limit that disposes it can never hurt a neighbour.
 *
 * The pool follows demand between its floor (`size`) and ceiling (`max`): it aims at the most
 * executions that were in flight at once over the last two windows, keeps isolates given back while
 * it is below that aim, and makes the missing ones one per event-loop turn, off any request's path
 * (`new Isolate` is synchronous, ~1 ms: a burst that made them on the spot spent 23% of the main
 * thread there). An isolate on its last execution counts as gone, so its replacement is made before
 * it is disposed. Beyond the ceiling, a request waits for an isolate to be given back, and makes an
 * extra one (disposed when it is given back) only when none has come back for as long as making one
 * takes: at 32 requests in flight, making and disposing isolates for the overflow cost more than
 * the executions.
 */
export class IsolatePool {
  private readonly idle: Warm[] = [];
  /** Leased isolates, and whether the running execution is their last. */
  private readonly leased = new Map<ivm.Isolate, boolean>();
  private closed = false;
  private refilling = false;
  private aim: number;
  private peak = 0;
  private previousPeak = 0;
  private readonly shrinkTimer: NodeJS.Timeout;
  /** Requests beyond the ceiling, waiting for an isolate to be given back. */
  private readonly waiters: Array<(warm: Warm | undefined) => void> = [];
  /** What making an isolate has cost lately (ms, a moving average): how long the queue waits for a return. */
  private makeMs = 2;
  /** Isolates that came to the queue so far (given back, or a replacement): while some come, it waits. */
  private returns = 0;
  private queueTimer?: NodeJS.Timeout;

  constructor(
    private readonly makeIsolate: (memoryMb: number) => ivm.Isolate,
    private readonly options: PoolOptions,
  ) {
    this.aim = options.size;
    this.shrinkTimer = setInterval(() => this.followDemand(), options.windowMs ?? 10_000);
    this.shrinkTimer.unref();
    this.scheduleRefill();
  }

  /** An isolate now; beyond the ceiling, a promise of one given back (or made after waiting for one). */
  acquire(): Lease | Promise<Lease> {
    // The isolate idle longest first: its next context has had the most time to be made.
    const warm = this.idle.shift();
    if (warm || this.options.max === 0 || this.leased.size < this.options.max) return this.lease(warm ?? this.warm(this.make(), 0));
    return this.waitForReturn().then((returned) => this.lease(returned ?? this.warm(this.make(), 0)));
  }

  private lease(current: Warm): Lease {
    this.leased.set(current.isolate, current.executions + 1 >= this.options.maxExecutions);
    this.peak = Math.max(this.peak, this.leased.size);
    // A burst raises the aim at once; only quiet windows lower it (followDemand).
    if (this.leased.size > this.aim) this.aim = Math.min(this.options.max, this.leased.size);
    this.scheduleRefill();
    let released = false;
    return {
      isolate: current.isolate,
      context: current.context,
      release: (retire) => {
        if (released) return;
        released = true;
        this.returns++;
        this.leased.delete(current.isolate);
        current.executions++;
        const worn = current.executions >= this.options.maxExecutions;
        if (retire || worn || this.closed || current.isolate.isDisposed) {
          dispose(current.isolate);
          this.scheduleRefill();
        } else if (this.waiters.length) {
          this.waiters.shift()!(this.warm(current.isolate, current.executions));
        } else if (this.live() >= this.aim) {
          dispose(current.isolate);
        } else {
          this.idle.push(this.warm(current.isolate, current.executions));
        }
      },
    };
  }

  get idleCount(): number {
    return this.idle.length;
  }

  get leasedCount(): number {
    return this.leased.size;
  }

  /** The isolates (idle and leased) the pool aims to keep, between its floor and ceiling. */
  get target(): number {
    return this.aim;
  }

  close(): void {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
    clearTimeout(this.queueTimer);
    clearInterval(this.shrinkTimer);
    for (const warm of this.idle.splice(0)) dispose(warm.isolate);
    for (const isolate of this.leased.keys()) dispose(isolate);
    this.leased.clear();
  }

  /** Resolves with an isolate given back (or a worn one's replacement), or with undefined: make an extra one. */
  private waitForReturn(): Promise<Warm | undefined> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.watchQueue();
    });
  }

  /**
   * One timer for the whole queue: when an interval as long as making an isolate passes with none
   * given back (the leased ones are busy for long), the head of the queue gives up and makes an
   * extra one, so a stalled pool grows by one isolate per interval. While isolates keep coming back,
   * requests wait their turn however deep the queue: at 32 requests in flight over a ceiling of 8,
   * a timer per request that gave up after one interval made and disposed an isolate for one
   * request in fifteen, a quarter of `serve`'s main thread.
   */
  private watchQueue(): void {
    if (this.queueTimer || !this.waiters.length) return;
    const returnsBefore = this.returns;
    // Timers run before the event loop's poll phase: the check waits one turn for the executions
    // that ended meanwhile to give their isolates back.
    this.queueTimer = setTimeout(
      () =>
        setImmediate(() => {
          this.queueTimer = undefined;
          if (this.closed) return;
          if (this.returns === returnsBefore) this.waiters.shift()?.(undefined);
          this.watchQueue();
        }),
      this.makeMs,
    );
  }

  private make(): ivm.Isolate {
    const started = performance.now();
    const isolate = this.makeIsolate(this.options.memoryMb);
    this.makeMs = 0.8 * this.makeMs + 0.2 * (performance.now() - started);
    return isolate;
  }

  /** Isolates that will serve again: the idle ones and the leased ones not on their last execution. */
  private live(): number {
    let n = this.idle.length;
    for (const last of this.leased.values()) if (!last) n++;
    return n;
  }

  /** Lowers the aim to the demand of the last two windows and disposes the idle isolates above it. */
  private followDemand(): void {
    this.aim = Math.min(this.options.max, Math.max(this.options.size, this.peak, this.previousPeak));
    this.previousPeak = this.peak;
    this.peak = this.leased.size;
    while (this.idle.length && this.live() > this.aim) dispose(this.idle.pop()!.isolate);
  }

  private scheduleRefill(): void {
    if (this.refilling || this.closed || this.live() >= this.aim) return;
    this.refilling = true;
    setImmediate(() => this.refillOne());
  }

  /** Makes one isolate, then yields to the event loop before the next, so requests run in between. */
  private refillOne(): void {
    this.refilling = false;
    if (this.closed || this.live() >= this.aim) return;
    const made = this.warm(this.make(), 0);
    // A worn isolate's replacement goes to the head of the queue, if any: it is given back work.
    const waiter = this.waiters.shift();
    if (waiter) {
      this.returns++;
      waiter(made);
    } else this.idle.push(made);
    this.scheduleRefill();
  }

  /** Starts making the isolate's next context now, so an execution does not wait for it. */
  private warm(isolate: ivm.Isolate, executions: number): Warm {
    const context = isolate.createContext();
    // A context still being made when its isolate is disposed is simply never used.
    context.catch(() => {});
    return { isolate, executions, context };
  }
}

function dispose(isolate: ivm.Isolate): void {
  if (!isolate.isDisposed) isolate.dispose();
}
