import { afterEach, describe, expect, it } from "vitest";
import { WorkerPool } from "../src/worker-pool.js";

const pools: WorkerPool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
});

function pool(maxExecutions: number, loadMs: number): WorkerPool {
  const made = new WorkerPool({
    name: "counting",
    file: new URL("./fixtures/counting-worker.mjs", import.meta.url),
    workerData: () => ({ loadMs }),
    size: 1,
    maxExecutions,
  });
  pools.push(made);
  return made;
}

const ignore = () => {};
const runOn = async (p: WorkerPool) => (await p.run({}, ignore, ignore)).thread as number;

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
    for (let i = 0; i < 20; i++) {
      threads.add(await runOn(p));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(threads.size).toBeGreaterThan(1);
  });
});
