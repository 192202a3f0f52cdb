import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * A guest that evaluates its payload's `code` as it is: the worker's own ending of an execution,
 * without the runner's wrapping (which would turn an out-of-memory into a reported error).
 */
const GUEST = `globalThis.__coderouter_fire = () => {};
globalThis.__coderouter_main = (text) => Promise.resolve(JSON.stringify((0, eval)(JSON.parse(text).code)));`;

type Result = { type: "result"; json?: string; error?: { message?: string }; retire?: boolean };

let worker: Worker;
beforeAll(async () => {
  worker = new Worker(new URL("../workers/quickjs-worker.mjs", import.meta.url), { workerData: { guestSource: GUEST }, resourceLimits: { stackSizeMb: 16 } });
  await new Promise((resolve) => worker.once("message", resolve));
});
afterAll(() => worker.terminate());

const run = (code: string, memoryMb = 64): Promise<Result> =>
  new Promise((resolve) => {
    worker.once("message", resolve);
    worker.postMessage({ payload: JSON.stringify({ code }), filename: "main.js", memoryMb, timeoutMs: 30_000, stop: new SharedArrayBuffer(4) });
  });

describe("QuickJS worker", () => {
  it("asks to be retired after the execution that ran out of memory, and that execution alone", async () => {
    // Beyond the 16 MB limit in one allocation: out of memory at once, where a growing array takes seconds.
    const bomb = await run("new ArrayBuffer(64 << 20)", 16);
    expect(bomb.error?.message).toMatch(/out of memory/i);
    expect(bomb.retire).toBe(true);
    // The pool retires the worker on that answer; one kept anyway answers the next execution for itself.
    const next = await run("6 * 7");
    expect(next).toMatchObject({ json: "42" });
    expect(next.retire).toBeUndefined();
  });
});
