import ivm from "isolated-vm";
import { afterEach, describe, expect, it } from "vitest";
import { IsolatePool, type Lease } from "../src/pool.js";

const pools: IsolatePool[] = [];
afterEach(() => {
  for (const pool of pools.splice(0)) pool.close();
});

function pool(options: { size: number; max: number; maxExecutions?: number; windowMs?: number }): IsolatePool {
  const made = new IsolatePool((memoryMb) => new ivm.Isolate({ memoryLimit: memoryMb }), { memoryMb: 16, maxExecutions: 100, ...options });
  pools.push(made);
  return made;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("IsolatePool", () => {
  it("makes its floor ahead of demand, one isolate per event-loop turn", async () => {
    const p = pool({ size: 3, max: 8 });
    expect(p.idleCount).toBe(0);
    await turn();
    expect(p.idleCount).toBe(1);
    for (let i = 0; i < 5; i++) await turn();
    expect(p.idleCount).toBe(3);
  });

  it("grows to a burst up to its ceiling, keeps what is given back, and shrinks to the floor when demand falls", async () => {
    const p = pool({ size: 1, max: 4, windowMs: 100 });
    const leases: Lease[] = await Promise.all(Array.from({ length: 6 }, async () => p.acquire()));
    expect(p.leasedCount).toBe(6);
    expect(p.target).toBe(4);
    for (const lease of leases) lease.release(false);
    // Isolates given back are kept up to the aim, not disposed and made again.
    expect(p.idleCount).toBe(4);
    expect(leases.filter((l) => l.isolate.isDisposed)).toHaveLength(2);
    // Two quiet windows later the pool is back at its floor.
    for (let i = 0; i < 50 && p.idleCount > 1; i++) await sleep(50);
    expect(p.target).toBe(1);
    expect(p.idleCount).toBe(1);
  });

  it("beyond its ceiling, hands an isolate given back to a waiting request instead of making one", async () => {
    const p = pool({ size: 2, max: 2 });
    const [a, b] = [await p.acquire(), await p.acquire()];
    const waiting = p.acquire();
    a.release(false);
    const c = await waiting;
    expect(c.isolate).toBe(a.isolate);
    expect(a.isolate.isDisposed).toBe(false);
    b.release(false);
    c.release(false);
    expect(p.idleCount).toBe(2);
  });

  it("beyond its ceiling, a request deep in the queue waits while isolates keep coming back, making none", async () => {
    const p = pool({ size: 1, max: 1, maxExecutions: 1000 });
    const served = new Set<ivm.Isolate>();
    // Each request holds its isolate for one event-loop turn: the queue of 200 takes many times what
    // making an isolate does, but one comes back every turn, so no request gives up and makes its own.
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        const lease = await p.acquire();
        served.add(lease.isolate);
        await turn();
        lease.release(false);
      }),
    );
    expect(served.size).toBe(1);
    expect(p.idleCount).toBe(1);
  });

  it("beyond its ceiling, makes an extra isolate when none comes back, and disposes it when given back", async () => {
    const p = pool({ size: 1, max: 1 });
    const held = await p.acquire();
    const extra = await p.acquire();
    expect(extra.isolate).not.toBe(held.isolate);
    extra.release(false);
    expect(extra.isolate.isDisposed).toBe(true);
    held.release(false);
    expect(p.idleCount).toBe(1);
  });

  it("hands a worn isolate's replacement to the request waiting beyond the ceiling", async () => {
    const p = pool({ size: 1, max: 1, maxExecutions: 2 });
    (await p.acquire()).release(false);
    const worn = await p.acquire();
    const waiting = p.acquire();
    // The replacement is made while the worn isolate's last execution runs, and goes to the queue.
    const next = await waiting;
    expect(next.isolate).not.toBe(worn.isolate);
    worn.release(false);
    expect(worn.isolate.isDisposed).toBe(true);
    // Not an extra made beyond the ceiling: given back, it stays as the pool's one isolate.
    next.release(false);
    expect(next.isolate.isDisposed).toBe(false);
    expect(p.idleCount).toBe(1);
  });

  it("makes a worn isolate's replacement while its last execution runs", async () => {
    const p = pool({ size: 1, max: 1, maxExecutions: 1 });
    for (let i = 0; i < 3; i++) await turn();
    const lease = await p.acquire();
    for (let i = 0; i < 3; i++) await turn();
    // The replacement is ready before the worn isolate is disposed.
    expect(p.idleCount).toBe(1);
    lease.release(false);
    expect(lease.isolate.isDisposed).toBe(true);
    expect(p.idleCount).toBe(1);
  });

  it("keeps no isolate at a floor of 0", async () => {
    const p = pool({ size: 0, max: 0 });
    const lease = await p.acquire();
    lease.release(false);
    await turn();
    expect(lease.isolate.isDisposed).toBe(true);
    expect(p.idleCount).toBe(0);
  });
});
