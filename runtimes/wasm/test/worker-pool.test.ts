import { afterEach, describe, expect, it } from "vitest";
import { WorkerPool } from "../src/worker-pool.js";

const pools: WorkerPool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
});

interface StandIn {
  loadMs: number;
  fail?: boolean;
}

/** A pool of stand-ins, each loading in `loadMs`, or as `standIn(n)` says for the n-th started (from 1). */
function pool(maxExecutions: number, loadMs: number | ((n: number) => StandIn)): WorkerPool {
  let started = 0;
  const made = new WorkerPool({
    name: "counting",
    file: new URL("./fixtures/counting-worker.mjs", import.meta.url),
    workerData: () => (typeof loadMs === "number" ? { loadMs } : loadMs(++started)),
    size: 1,
    maxExecutions,
  });
  pools.push(made);
  return made;
}

const ignore = () => {};
const runOn = async (p: WorkerPool, workMs = 0) => (await p.run({ workMs }, ignore, ignore)).thread as number;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("WorkerPool", () => {
  it("loads a worn worker's successor before retiring it, so the worn one serves until the successor is ready", async () => {
    const p = pool(5, 1000);
    const threads: number[] = [];
    // Executions keep coming while the successor loads: none of them waits for a load.
    for (let i = 0; i < 5; i++) threads.push(await runOn(p));
    const first = threads[0]!;
    expect(threads.every((t) => t === first)).toBe(true);
    // Past its limit, the first worker still answers while its successor is loading.
    expect(await runOn(p)).toBe(first);
    // Once the successor has loaded, it takes over and the worn worker is gone.
    let next = first;
    for (let i = 0; i < 100 && next === first; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      next = await runOn(p);
    }
    expect(next).not.toBe(first);
    expect(p.warm).toBe(1);
  });

  it("serves every execution at a limit of one, moving to new workers as they load", async () => {
    const p = pool(1, 50);
    const threads = new Set<number>();
    // At least 20, and on until a new worker has loaded: on a loaded machine a worker's start can
    // outlast 20 of these (it failed 1 run in 8 at load 8).
    for (let i = 0; i < 20 || (threads.size < 2 && i < 500); i++) {
      threads.add(await runOn(p));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(threads.size).toBeGreaterThan(1);
  });

  it("keeps a worn worker serving when its successor fails to load, and starts another successor", async () => {
    let started = 0;
    const p = pool(3, (n) => {
      started = n;
      return { loadMs: 200, fail: n === 2 };
    });
    const first = await runOn(p);
    // The first successor (the second worker) fails while the worn worker keeps answering: no
    // execution fails or waits on it, and a later successor takes over once it has loaded.
    const threads: number[] = [];
    for (let i = 0; i < 200 && (threads.at(-1) ?? first) === first; i++) {
      threads.push(await runOn(p));
      await sleep(20);
    }
    expect(started).toBeGreaterThanOrEqual(3);
    expect(threads.at(-1)).not.toBe(first);
    expect(threads.slice(0, -1).every((t) => t === first)).toBe(true);
    expect(p.warm).toBe(1);
  });

  it("gives a second execution the busy loaded worker, not the successor still loading", async () => {
    const p = pool(2, (n) => ({ loadMs: n === 1 ? 50 : 60_000 }));
    const first = await runOn(p);
    // The first worker is near its limit: its successor has started loading and takes a minute.
    const served = await Promise.all([runOn(p, 50), runOn(p, 50)]);
    expect(served).toEqual([first, first]);
  });
});
