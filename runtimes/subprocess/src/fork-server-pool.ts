import { createDebug } from "@coderouter/core";
import type { ForkServer } from "./fork-server.js";

const log = createDebug("coderouter:subprocess");

/** How long a server above the floor may stay idle before it is stopped. */
const IDLE_MS = 10_000;
/** Weight of the newest duration in the running averages below. */
const SMOOTHING = 0.2;

interface Waiter {
  resolve: (server: ForkServer | undefined) => void;
  timer: NodeJS.Timeout;
}

/**
 * The warm fork-servers of one mode (plain or sandboxed), between a floor kept warm and a ceiling.
 *
 * When every server is busy, a request waits for the next one to come free if, by the durations
 * seen so far, that will happen before a cold start would finish (a warm execution takes a few ms,
 * a cold interpreter tens): at 4 and 8 in flight on 2 fork-servers, starting cold processes beside
 * them halved the throughput. It waits no longer than a cold start would take, then starts cold.
 * Waiting requests grow the pool, up to the ceiling; servers above the floor that stay idle for
 * IDLE_MS are stopped.
 */
export class ForkServerPool {
  private servers: ForkServer[] = [];
  private starting = 0;
  private readonly waiters: Waiter[] = [];
  /** Handed out and not yet released (a server's own busy flag clears a moment before). */
  private readonly leased = new Set<ForkServer>();
  private readonly idleSince = new Map<ForkServer, number>();
  private readonly trimmer: NodeJS.Timeout;
  /** Running averages (ms): a warm execution from hand-out to return, and a cold execution. */
  private warmMs = 5;
  private coldMs = 50;
  private closed = false;

  constructor(
    private readonly start: () => Promise<ForkServer>,
    readonly floor: number,
    readonly ceiling: number,
  ) {
    this.trimmer = setInterval(() => this.trim(), IDLE_MS).unref();
  }

  /**
   * An idle server, marked busy for the caller, who hands it back with release(); undefined when
   * the caller should start a cold process instead (no server, or none free soon enough).
   */
  async acquire(): Promise<ForkServer | undefined> {
    if (this.closed || this.ceiling === 0) return undefined;
    this.servers = this.servers.filter((s) => s.alive);
    const idle = this.servers.find((s) => this.isIdle(s));
    if (idle) return this.handOut(idle);
    const count = this.servers.length + this.starting;
    // Up to the floor as requests come; past it only when every server there is has work.
    if (count < this.floor || (this.servers.length && !this.starting && count < this.ceiling)) this.grow();
    if (!this.servers.length) return undefined;
    // Each server serves the queue in turn: this request is free after its share of it.
    const expectedMs = Math.ceil((this.waiters.length + 1) / this.servers.length) * this.warmMs;
    if (expectedMs >= this.coldMs) return undefined;
    return new Promise<ForkServer | undefined>((resolve) => {
      const waiter: Waiter = {
        resolve,
        // A server that went quiet must not hold the request longer than a cold start would.
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          resolve(undefined);
        }, this.coldMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Takes a server back after an execution (alive or not) and passes it to the next waiting request. */
  release(server: ForkServer, elapsedMs: number): void {
    this.leased.delete(server);
    if (!server.alive) {
      this.servers = this.servers.filter((s) => s !== server);
      if (this.waiters.length || this.servers.length < this.floor) this.grow();
      return;
    }
    this.warmMs += SMOOTHING * (elapsedMs - this.warmMs);
    this.offer(server);
  }

  /** A cold execution's duration, which bounds how long a request waits for a warm server. */
  observeCold(elapsedMs: number): void {
    this.coldMs += SMOOTHING * (elapsedMs - this.coldMs);
  }

  sizes(): { total: number; idle: number; waiting: number } {
    const alive = this.servers.filter((s) => s.alive);
    return { total: alive.length, idle: alive.filter((s) => this.isIdle(s)).length, waiting: this.waiters.length };
  }

  /** Ends every server; resolves once they have exited (what each held, a scratch mount, goes with it). */
  close(): Promise<void> {
    this.closed = true;
    clearInterval(this.trimmer);
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve(undefined);
    }
    for (const server of this.servers) server.close();
    const ended = Promise.all(this.servers.map((server) => server.ended));
    this.servers = [];
    return ended.then(() => {});
  }

  private isIdle(server: ForkServer): boolean {
    return server.usable && !this.leased.has(server);
  }

  private handOut(server: ForkServer): ForkServer {
    this.leased.add(server);
    this.idleSince.delete(server);
    return server;
  }

  private offer(server: ForkServer): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(this.handOut(server));
    } else {
      this.idleSince.set(server, performance.now());
    }
  }

  private grow(): void {
    this.starting++;
    this.start()
      .then((server) => {
        if (this.closed) return server.close();
        this.servers.push(server);
        this.offer(server);
      })
      .catch((error: Error) => log(`a fork-server did not start: ${error.message}`))
      .finally(() => this.starting--);
  }

  /** Stops servers above the floor that nobody needed for IDLE_MS. */
  private trim(): void {
    const now = performance.now();
    for (const server of this.servers) {
      if (this.servers.length <= this.floor) break;
      const since = this.idleSince.get(server);
      if (this.isIdle(server) && since !== undefined && now - since > IDLE_MS) {
        this.idleSince.delete(server);
        server.close();
        this.servers = this.servers.filter((s) => s !== server);
      }
    }
  }
}
