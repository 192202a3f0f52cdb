import { createRouter } from "coderouter";
import { WasmRuntime } from "@coderouter/runtime-wasm";
import { interleaved, percentile, summary } from "./measure.js";
import type { Row } from "./table.js";

/**
 * Python in Pyodide: a trivial execution on a warm worker, beside loading a cold one and beside
 * the subprocess runtime's fork-server, all in the same run.
 */
export async function wasmRows(rounds: (n: number) => number): Promise<Row[]> {
  const request = { language: "python" as const, code: "1 + 1", inputs: {}, timeoutMs: 30_000, isolation: "none" as const, maxOutputBytes: 1 << 20 };
  const settings = {
    pyodideWorkers: 1,
    quickjsWorkers: 1,
    prewarm: false,
    memoryMb: 256,
    maxExecutions: 1_000_000,
    wasmedgeBin: "wasmedge",
    wasiEngine: "auto" as const,
  };

  const cold: number[] = [];
  for (let i = 0; i < (rounds(5) >= 5 ? 5 : 3); i++) {
    const runtime = new WasmRuntime(settings);
    const start = performance.now();
    await runtime.execute(request);
    cold.push(performance.now() - start);
    await runtime.close();
  }

  const router = createRouter({ env: {}, dotenv: false });
  const wasm = () => router.execute({ language: "python", code: "1 + 1", runtime: "wasm" });
  const forkServer = () => router.execute({ language: "python", code: "1 + 1", runtime: "subprocess" });
  for (let i = 0; i < 50; i++) await Promise.all([wasm(), forkServer()]);
  const [warm, forked] = await interleaved(rounds(2000), wasm, forkServer);
  await router.close();

  const warmP50 = percentile(warm, 50);
  const coldP50 = percentile(cold, 50);
  const fresh = await freshInterpreterRows(rounds);
  const retiring = await retirementRow(rounds, settings, request);
  return [
    ...fresh,
    retiring,
    {
      name: "wasm: Python in a warm Pyodide worker vs loading a cold one",
      ours: summary(warm, 0),
      baseline: summary(cold, 0),
      baselineName: "a cold Pyodide: worker start, load, first execution",
      target: `warm ≤ 1% of cold (measured ${((warmP50 / coldP50) * 100).toFixed(2)}%)`,
      met: warmP50 <= coldP50 / 100,
    },
    {
      name: "wasm: Python in a warm Pyodide worker vs the subprocess fork-server",
      ours: summary(warm, 0),
      baseline: summary(forked, 0),
      baselineName: "subprocess python through the warm fork-server",
      target: `recorded, no target (${(warmP50 / percentile(forked, 50)).toFixed(2)}×)`,
      met: true,
    },
  ];
}

/**
 * Sequential Python through WASM_MAX_EXECUTIONS (200) worker retirements: each worn worker's
 * replacement loads while it still serves, so no execution waits for a load. Against the same
 * runtime whose worker never retires. The worst execution's excess over the median bounds how long
 * any execution waited for a worker.
 */
async function retirementRow(
  rounds: (n: number) => number,
  settings: ConstructorParameters<typeof WasmRuntime>[0],
  request: Parameters<WasmRuntime["execute"]>[0],
): Promise<Row> {
  const total = Math.max(rounds(2000), 450);
  const sequential = async (maxExecutions: number) => {
    const runtime = new WasmRuntime({ ...settings, maxExecutions });
    try {
      for (let i = 0; i < 20; i++) await runtime.execute(request);
      const samples: number[] = [];
      for (let i = 0; i < total; i++) {
        const start = performance.now();
        await runtime.execute(request);
        samples.push(performance.now() - start);
      }
      return samples;
    } finally {
      await runtime.close();
    }
  };
  const retiring = await sequential(200);
  const never = await sequential(1_000_000);
  const p50 = percentile(retiring, 50);
  const p99 = percentile(retiring, 99);
  const worstWait = Math.max(...retiring) - p50;
  return {
    name: `wasm: ${total} sequential Python executions, a worker retired every 200`,
    ours: summary(retiring, 0),
    baseline: summary(never, 0),
    baselineName: "the same runtime whose worker is never retired",
    target: `no execution waits > 50 ms for a worker (worst − p50: ${worstWait.toFixed(1)} ms); p99 ≤ 5× p50 (${(p99 / p50).toFixed(1)}×)`,
    met: worstWait <= 50 && p99 <= 5 * p50,
  };
}

/**
 * Python at isolation `sandbox`: an interpreter of its own per execution, restored ahead of demand
 * from Pyodide's memory snapshot. Latency when a spare is ready, and the sustained rate when every
 * execution waits for a restore (what restoring per execution would cost), both against the warm
 * reused interpreter of the same runtime, 2 spares on this 2-core machine.
 */
async function freshInterpreterRows(rounds: (n: number) => number): Promise<Row[]> {
  const runtime = new WasmRuntime({
    pyodideWorkers: 2,
    quickjsWorkers: 1,
    prewarm: true,
    memoryMb: 256,
    maxExecutions: 1_000_000,
    wasmedgeBin: "wasmedge",
    wasiEngine: "auto",
  });
  const request = (isolation: "none" | "sandbox") => ({
    language: "python" as const,
    code: "1 + 1",
    inputs: {},
    timeoutMs: 60_000,
    isolation,
    maxOutputBytes: 1 << 20,
  });
  const spares = async (n: number) => {
    while ((runtime.poolSizes()["wasm.pyodide"] ?? 0) < n) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  const timed = async (isolation: "none" | "sandbox") => {
    const start = performance.now();
    await runtime.execute(request(isolation));
    return performance.now() - start;
  };
  await spares(2);
  await timed("sandbox");
  const readySpare: number[] = [];
  for (let i = 0; i < Math.max(5, rounds(30)); i++) {
    await spares(2);
    readySpare.push(await timed("sandbox"));
  }
  await spares(2);
  const sustainedCount = Math.max(4, rounds(20));
  const sustained: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      for (let i = 0; i < sustainedCount / 2; i++) sustained.push(await timed("sandbox"));
    }),
  );
  const freshRate = sustainedCount / ((performance.now() - started) / 1000);
  await spares(2);
  const reused: number[] = [];
  for (let i = 0; i < rounds(2000); i++) reused.push(await timed("none"));
  const reusedInFlight: number[] = [];
  const reusedStarted = performance.now();
  const reusedCount = rounds(2000);
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      for (let i = 0; i < reusedCount / 2; i++) reusedInFlight.push(await timed("none"));
    }),
  );
  const reusedRate = reusedCount / ((performance.now() - reusedStarted) / 1000);
  await runtime.close();
  const p50 = percentile(readySpare, 50);
  return [
    {
      name: "wasm: Python 1 + 1 at sandbox, a fresh interpreter from a ready spare",
      ours: summary(readySpare, 0),
      baseline: summary(reused, 0),
      baselineName: "the warm reused interpreter (isolation none)",
      target: `p50 ≤ 10 ms (measured ${p50.toFixed(1)} ms)`,
      met: p50 <= 10,
    },
    {
      name: "wasm: sustained Python at sandbox, every execution a restored interpreter (2 spares)",
      ours: summary(sustained, freshRate),
      baseline: summary(reusedInFlight, reusedRate),
      baselineName: "the warm reused interpreters, 2 in flight",
      target: `recorded, no target (${freshRate.toFixed(2)} vs ${reusedRate.toFixed(0)} exec/s)`,
      met: true,
    },
  ];
}
