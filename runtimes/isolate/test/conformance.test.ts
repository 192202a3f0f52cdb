import { runConformance } from "@coderouter/conformance";
import { IsolateRuntime } from "../src/index.js";

runConformance({
  name: "isolate",
  create: () =>
    new IsolateRuntime({
      poolSize: 2,
      poolMax: 8,
      memoryMb: 256,
      maxExecutions: 500,
      fetchAllow: [],
      fetchTimeoutMs: 5000,
      fetchMaxBytes: 1 << 20,
      fetchAllowPrivate: false,
      wasm: false,
    }),
  languages: ["javascript", "typescript"],
  sandbox: "engine",
});
