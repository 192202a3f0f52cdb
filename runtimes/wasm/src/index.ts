import { defineRuntime } from "@coderouter/core";
import { WasmRuntime } from "./runtime.js";
import { WASM_ENV, WasmSettingsSchema } from "./settings.js";

export { WasmRuntime } from "./runtime.js";
export { WASM_ENV, WasmSettingsSchema, type WasmSettings } from "./settings.js";

export default defineRuntime({
  id: "wasm",
  description: "WebAssembly: Pyodide for Python, QuickJS for JavaScript, on worker threads",
  env: WASM_ENV,
  settings: WasmSettingsSchema,
  create: (settings) => new WasmRuntime(settings),
});
