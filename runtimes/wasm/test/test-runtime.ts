import { WasmRuntime, type WasmSettings } from "../src/index.js";

/**
 * A wasm runtime as the tests use it: one worker of each engine, so that a test's executions share
 * the worker whose reuse it checks; Pyodide loaded up front, so the first test does not pay for
 * it in its own timeout; and no WasmEdge unless a test names one.
 */
export function testRuntime(overrides: Partial<WasmSettings> = {}): WasmRuntime {
  return new WasmRuntime({
    pyodideWorkers: 1,
    quickjsWorkers: 1,
    prewarm: true,
    memoryMb: 256,
    maxExecutions: 200,
    wasmedgeBin: "wasmedge-not-installed",
    wasiEngine: "auto",
    ...overrides,
  });
}
