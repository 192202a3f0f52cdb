import { runConformance } from "@coderouter/conformance";
import { workerRuntime } from "../src/index.js";

// The plug-in passes the suite every built-in passes, its runtime made by the definition's own
// factory, as the router's registry makes it.
runConformance({
  name: "worker (plug-in)",
  create: () => workerRuntime.create({ memoryMb: 256 }, { defaultTimeoutMs: 30_000, maxOutputBytes: 1024 * 1024 }),
  languages: ["javascript", "typescript"],
});
