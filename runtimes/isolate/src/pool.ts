import type ivm from "isolated-vm";

export interface PoolOptions {
  /** Isolates kept warm, ready for the next execution. */
  size: number;
  memoryMb: number;
  /** An isolate is retired after this many executions, so heap growth never accumulates. */
  maxExecutions: number;
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
 * a limit that disposes it can never hurt a neighbour; a burst beyond `size` gets extra isolates
 * that are disposed when given back.
 */
export class IsolatePool {
  private readonly idle: Warm[] = [];
  private readonly leased = new Set<ivm.Isolate>();
  private closed = false;

  constructor(
    private readonly makeIsolate: (memoryMb: number) => ivm.Isolate,
    private readonly options: PoolOptions,
  ) {
    this.refill();
  }

  acquire(): Lease {
    // The isolate idle longest first: its next context has had the most time to be made.
    const warm = this.idle.shift() ?? this.warm(this.makeIsolate(this.options.memoryMb), 0);
    this.leased.add(warm.isolate);
    // Top the pool back up after the caller's execution has started, not on its critical path.
    if (this.idle.length + this.leased.size < this.options.size) setImmediate(() => this.refill());
    let released = false;
    return {
      isolate: warm.isolate,
      context: warm.context,
      release: (retire) => {
        if (released) return;
        released = true;
        this.leased.delete(warm.isolate);
        warm.executions++;
        const worn = warm.executions >= this.options.maxExecutions;
        if (retire || worn || this.closed || this.idle.length >= this.options.size || warm.isolate.isDisposed) {
          dispose(warm.isolate);
          setImmediate(() => this.refill());
        } else {
          this.idle.push(this.warm(warm.isolate, warm.executions));
        }
      },
    };
  }

  get idleCount(): number {
    return this.idle.length;
  }

  close(): void {
    this.closed = true;
    for (const warm of this.idle.splice(0)) dispose(warm.isolate);
    for (const isolate of this.leased) dispose(isolate);
    this.leased.clear();
  }

  private refill(): void {
    while (!this.closed && this.idle.length + this.leased.size < this.options.size) {
      this.idle.push(this.warm(this.makeIsolate(this.options.memoryMb), 0));
    }
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
