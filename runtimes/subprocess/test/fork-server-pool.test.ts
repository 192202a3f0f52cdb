import { afterEach, describe, expect, it } from "vitest";
import type { ForkServer } from "../src/fork-server.js";
import { ForkServerPool } from "../src/fork-server-pool.js";

/** Stands in for a started fork-server: the pool only looks at alive/usable, calls close() and waits for ended. */
function server(): ForkServer {
  let exited = () => {};
  const fake = {
    alive: true,
    busy: false,
    ended: new Promise<void>((resolve) => {
      exited = resolve;
    }),
    get usable() {
      return fake.alive && !fake.busy;
    },
    close() {
      fake.alive = false;
      exited();
    },
  };
  return fake as unknown as ForkServer;
}

const pools: ForkServerPool[] = [];
function pool(floor: number, ceiling: number): { pool: ForkServerPool; started: ForkServer[] } {
  const started: ForkServer[] = [];
  const made = new ForkServerPool(
    async () => {
      const s = server();
      started.push(s);
      return s;
    },
    floor,
    ceiling,
  );
  pools.push(made);
  return { pool: made, started };
}

/** Lets the pool's background starts settle. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

afterEach(() => {
  for (const p of pools.splice(0)) p.close();
});

describe("ForkServerPool", () => {
  it("starts cold while no server is up, and warms the floor meanwhile", async () => {
    const { pool: p, started } = pool(2, 4);
    expect(await Promise.all([p.acquire(), p.acquire()])).toEqual([undefined, undefined]);
    await settle();
    expect(started).toHaveLength(2);
    expect(p.sizes()).toEqual({ total: 2, idle: 2, waiting: 0 });
  });

  it("hands a busy server to the request waiting for it instead of starting cold", async () => {
    const { pool: p } = pool(1, 1);
    await p.acquire();
    await settle();
    const first = await p.acquire();
    expect(first).toBeDefined();
    const waiting = p.acquire();
    expect(p.sizes().waiting).toBe(1);
    p.release(first!, 2);
    expect(await waiting).toBe(first);
    expect(p.sizes().waiting).toBe(0);
  });

  it("starts cold when the wait would outlast a cold start", async () => {
    const { pool: p } = pool(1, 1);
    await p.acquire();
    await settle();
    const first = await p.acquire();
    p.release(first!, 40);
    for (let i = 0; i < 30; i++) p.observeCold(1);
    expect(await p.acquire()).toBe(first);
    expect(await p.acquire()).toBeUndefined();
  });

  it("gives up waiting after a cold start's time, so a stuck server cannot hold a request", async () => {
    const { pool: p } = pool(1, 1);
    await p.acquire();
    await settle();
    await p.acquire();
    for (let i = 0; i < 20; i++) p.observeCold(10);
    expect(await p.acquire()).toBeUndefined();
  });

  it("grows to its ceiling while requests wait, and no further", async () => {
    const { pool: p, started } = pool(1, 3);
    await p.acquire();
    await settle();
    const taken = [await p.acquire()];
    for (let i = 0; i < 6; i++) {
      void p.acquire().then((s) => s && taken.push(s));
      await settle();
    }
    expect(started).toHaveLength(3);
    expect(new Set(taken).size).toBe(3);
  });

  it("replaces a server that died during an execution for the request waiting behind it", async () => {
    const { pool: p, started } = pool(1, 1);
    await p.acquire();
    await settle();
    const first = await p.acquire();
    const waiting = p.acquire();
    first!.close();
    p.release(first!, 3);
    const next = await waiting;
    expect(next).toBe(started[1]);
    expect(next?.alive).toBe(true);
  });

  it("answers waiting requests with a cold start when it closes, and stops its servers", async () => {
    const { pool: p, started } = pool(1, 1);
    await p.acquire();
    await settle();
    await p.acquire();
    const waiting = p.acquire();
    p.close();
    expect(await waiting).toBeUndefined();
    expect(started.every((s) => !s.alive)).toBe(true);
  });
});
