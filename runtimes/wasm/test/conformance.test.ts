import { runConformance } from "@coderouter/conformance";
import { testRuntime } from "./test-runtime.js";

runConformance({
  name: "wasm",
  create: () => testRuntime({ wasmedgeBin: "wasmedge" }),
  languages: ["python", "javascript", "typescript"],
  threads: false,
  sandbox: "wasm",
});
