import { runConformance } from "@coderouter/conformance";
import { WasmRuntime } from "../src/index.js";

runConformance({
  name: "wasm",
  create: () =>
    new WasmRuntime({ pyodideWorkers: 1, quickjsWorkers: 1, prewarm: true, memoryMb: 256, maxExecutions: 200, wasmedgeBin: "wasmedge", wasiEngine: "auto" }),
  languages: ["python", "javascript", "typescript"],
  threads: false,
  sandbox: "wasm",
});
