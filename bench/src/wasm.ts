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
  const settings = { pyodideWorkers: 1, quickjsWorkers: 1, prewarm: false, memoryMb: 256, maxExecutions: 1_000_000, wasmedgeBin: "wasmedge", wasiEngine: "auto" as const };

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
  return [
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
