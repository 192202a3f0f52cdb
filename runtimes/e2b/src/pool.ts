import { randomUUID } from "node:crypto";
import { RuntimeClosedError } from "@coderouter/core";
import { log } from "./log.js";
import type { Sandbox } from "./sdk.js";

/** A sandbox lent to one execution; nobody else uses it until it is released. */
export interface Lease {
  sandbox: Sandbox;
  /** No execution has run in it yet. */
  fresh: boolean;
  /** When the service will kill it unless its timeout is extended (ms since the epoch). */
  expiresAt: number;
  /** Time spent waiting for it (creation included), for startupMs. */
  waitedMs: number;
}

interface Idle {
  lease: Lease;
  timer: NodeJS.Timeout;
}

export interface PoolOptions {
  /** Idle sandboxes kept ready. */
  size: number;
  idleMs: number;
  max: number;
  /** The life a new sandbox gets from the service. */
  lifeMs: number;
  /** Creates a sandbox tagged with the pool's owner id in its metadata. */
  create: (owner: string) => Promise<Sandbox>;
  /** Ids of the live sandboxes tagged with the owner id. */
  tagged: (owner: string) => Promise<string[]>;
  killById: (id: string) => Promise<unknown>;
}

/**
 * The sandboxes of one runtime: a few kept warm so a routed request does not pay for creation,
 * never more than `max` alive, each lent to one execution at a time, and every one created killed
 * again: after use when it must not be reused, when idle too long, on close and on SIGINT/SIGTERM.
 * The service's own timeout on each sandbox is the safety net if this process dies first.
 */
export class SandboxPool {
  private readonly idle: Idle[] = [];
  private readonly busy = new Set<Sandbox>();
  private readonly waiters: (() => void)[] = [];
  private readonly kills = new Set<Promise<void>>();
  private creating = 0;
  /** Tags this pool's sandboxes, so one whose creation timed out on our side can still be found. */
  readonly owner = randomUUID();
  private readonly known = new Set<string>();
  private refilling = 0;
  private closed = false;
  /** The last failure of a background creation, for availability(). */
  lastError: Error | undefined;
  readonly counts = { created: 0, killed: 0, orphansKilled: 0 };

  constructor(private readonly options: PoolOptions) {
    pools.add(this);
    installSignalHandlers();
  }

  get ready(): number {
    return this.idle.length;
  }

  private get live(): number {
    return this.idle.length + this.busy.size + this.creating;
  }

  /**
   * A sandbox for one execution. `fresh`: one no execution has used (full isolation); otherwise a
   * used one is preferred, keeping fresh ones for the requests that need them.
   */
  async acquire(fresh: boolean, signal?: AbortSignal): Promise<Lease> {
    const started = performance.now();
    for (;;) {
      if (this.closed) throw new RuntimeClosedError("e2b");
      signal?.throwIfAborted();
      const index = this.pick(fresh);
      if (index >= 0) {
        const [{ lease, timer }] = this.idle.splice(index, 1) as [Idle];
        clearTimeout(timer);
        this.busy.add(lease.sandbox);
        log.pool(`lent warm sandbox ${lease.sandbox.sandboxId} (${lease.fresh ? "unused" : "used before"}), ${this.idle.length} left idle`);
        this.refill();
        return { ...lease, waitedMs: performance.now() - started };
      }
      if (this.live < this.options.max) {
        const lease = await this.createOne();
        this.busy.add(lease.sandbox);
        return { ...lease, waitedMs: performance.now() - started };
      }
      await this.waitForRoom(signal);
    }
  }

  /** Returns a sandbox after an execution: kept for the next one when `reusable`, killed otherwise. */
  release(lease: Lease, reusable: boolean): void {
    // Not busy any more: close() has already killed it.
    if (!this.busy.delete(lease.sandbox)) return;
    if (reusable && !this.closed && lease.expiresAt - Date.now() > 10_000) {
      this.keep({ ...lease, fresh: false });
      log.pool(`sandbox ${lease.sandbox.sandboxId} back in the pool, ${this.idle.length} idle`);
    } else this.kill(lease.sandbox);
    this.refill();
    this.wake();
  }

  /** Tops the pool up to its size in the background; failures are remembered, not retried in a loop. */
  refill(): void {
    const unused = this.idle.filter((i) => i.lease.fresh).length;
    for (let n = unused + this.refilling; n < this.options.size && this.live < this.options.max && !this.closed; n++) {
      this.refilling++;
      this.createOne()
        .then((lease) => {
          this.lastError = undefined;
          this.keep(lease);
          this.wake();
        })
        .catch((error: Error) => {
          this.lastError = error;
          log.pool(`warming a sandbox failed: ${error.message}`);
        })
        .finally(() => this.refilling--);
    }
  }

  /** Kills every sandbox, idle and busy; waits for the kills (and creations under way) to finish. */
  async close(): Promise<void> {
    this.closed = true;
    pools.delete(this);
    for (const { lease, timer } of this.idle.splice(0)) {
      clearTimeout(timer);
      this.kill(lease.sandbox);
    }
    for (const sandbox of this.busy) this.kill(sandbox);
    this.busy.clear();
    this.wake();
    while (this.creating > 0 || this.kills.size > 0) {
      await Promise.all(this.kills);
      if (this.creating > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (this.orphansPossible) await this.killOrphans();
  }

  /** Set once a creation failed without an answer: the service may have made the sandbox anyway. */
  private orphansPossible = false;

  /** Kills the sandboxes tagged as ours that this pool never received. */
  async killOrphans(): Promise<void> {
    let ids: string[];
    try {
      ids = await this.options.tagged(this.owner);
    } catch (error) {
      return log.kill(`listing this pool's sandboxes failed: ${(error as Error).message}`);
    }
    await Promise.all(
      ids
        .filter((id) => !this.known.has(id))
        .map((id) => {
          this.known.add(id);
          log.kill(`killing sandbox ${id}, created after its creation request had given up`);
          return this.options.killById(id).then(
            () => void this.counts.orphansKilled++,
            (error: Error) => log.kill(`killing orphan ${id} failed: ${error.message}`),
          );
        }),
    );
  }

  private pick(fresh: boolean): number {
    if (fresh) return this.idle.findIndex((i) => i.lease.fresh);
    const used = this.idle.findIndex((i) => !i.lease.fresh);
    return used >= 0 ? used : this.idle.length - 1;
  }

  private async createOne(): Promise<Lease> {
    this.creating++;
    const started = performance.now();
    try {
      const sandbox = await this.options.create(this.owner).catch((error: Error) => {
        if (error.name === "TimeoutError" || error.name === "AbortError" || (error.cause as Error | undefined)?.name === "TimeoutError") {
          // The request gave up, the service may still finish: look for the sandbox now and later.
          this.orphansPossible = true;
          for (const delay of [1000, this.options.lifeMs / 10]) setTimeout(() => void this.killOrphans(), delay).unref();
        }
        throw error;
      });
      this.known.add(sandbox.sandboxId);
      this.counts.created++;
      log.create(`created sandbox ${sandbox.sandboxId} in ${Math.round(performance.now() - started)} ms`);
      // Closed while it was being created: it must not outlive the pool.
      if (this.closed) {
        this.kill(sandbox);
        throw new RuntimeClosedError("e2b");
      }
      return { sandbox, fresh: true, expiresAt: Date.now() + this.options.lifeMs, waitedMs: 0 };
    } finally {
      this.creating--;
    }
  }

  private keep(lease: Lease): void {
    // Killed here before the service's own timeout would, so a sandbox is never lent out dead.
    const ttl = Math.max(0, Math.min(this.options.idleMs, lease.expiresAt - Date.now() - 10_000));
    const entry: Idle = {
      lease,
      timer: setTimeout(() => {
        const index = this.idle.indexOf(entry);
        if (index >= 0) this.idle.splice(index, 1);
        this.kill(lease.sandbox);
        this.refill();
      }, ttl),
    };
    entry.timer.unref();
    this.idle.push(entry);
  }

  private kill(sandbox: Sandbox): void {
    const killing = sandbox
      .kill()
      .then(
        () => {
          this.counts.killed++;
          log.kill(`killed sandbox ${sandbox.sandboxId}`);
        },
        (error: Error) => log.kill(`killing sandbox ${sandbox.sandboxId} failed (its service-side timeout will end it): ${error.message}`),
      )
      .finally(() => this.kills.delete(killing));
    this.kills.add(killing);
  }

  private waitForRoom(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

/**
 * Every pool kills its sandboxes before the process ends: a sandbox left behind costs money
 * until its service-side timeout. On SIGINT/SIGTERM, listening replaces Node's default exit, so
 * once the pools are closed the signal is raised again for the default (or other listeners).
 * When the process ends on its own (its event loop drained, `router.close()` never called),
 * `beforeExit` closes the pools; their kills keep the loop alive until they are done.
 */
const pools = new Set<SandboxPool>();
let handlersInstalled = false;
function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const handler = () => {
      const closing = Promise.all([...pools].map((pool) => pool.close()));
      const deadline = new Promise((resolve) => setTimeout(resolve, 5000).unref());
      void Promise.race([closing, deadline]).then(() => {
        process.off(signal, handler);
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
    };
    process.on(signal, handler);
  }
  process.on("beforeExit", () => {
    if (!pools.size) return;
    log.kill(`the process is ending: closing ${pools.size} pool(s)`);
    for (const pool of pools) void pool.close();
  });
}
