import { z } from "zod";
import { setting } from "@coderouter/core";

export const WASM_ENV = {
  WASM_PYODIDE_WORKERS: "pyodideWorkers",
  WASM_QUICKJS_WORKERS: "quickjsWorkers",
  WASM_PREWARM: "prewarm",
  WASM_MEMORY_MB: "memoryMb",
  WASM_MAX_EXECUTIONS: "maxExecutions",
  WASMEDGE_BIN: "wasmedgeBin",
  WASM_WASI_ENGINE: "wasiEngine",
} as const;

export const WasmSettingsSchema = z.object({
  /** Pyodide interpreters kept loaded (~2 s and ~150 MB each). */
  pyodideWorkers: setting.int(1, 64).default(1),
  quickjsWorkers: setting.int(1, 64).default(1),
  /** Load Pyodide when the runtime is created, not on the first Python request. */
  prewarm: setting.boolean().default(false),
  /** QuickJS heap limit of a request that gives no memoryMb, and the most one may ask for. */
  memoryMb: setting.int(8, 4096).default(256),
  /** Executions a Pyodide worker runs before it is replaced by a fresh one. */
  maxExecutions: setting.int(1).default(200),
  /** The WasmEdge CLI, reported by doctor when present. */
  wasmedgeBin: setting.string().default("wasmedge"),
  /** What runs WASI modules: WasmEdge when its CLI is found (auto), always node:wasi, or always WasmEdge. */
  wasiEngine: z.enum(["auto", "node", "wasmedge"]).default("auto"),
});
export type WasmSettings = z.output<typeof WasmSettingsSchema>;
