import { z } from "zod";
import { defineRuntime, setting } from "@coderouter/core";
import { IsolateRuntime } from "./runtime.js";

export { IsolateRuntime, type IsolateSettings } from "./runtime.js";

export default defineRuntime({
  id: "isolate",
  description: "V8 isolate in-process (isolated-vm)",
  env: {
    ISOLATE_POOL_SIZE: "poolSize",
    ISOLATE_POOL_MAX: "poolMax",
    ISOLATE_MEMORY_MB: "memoryMb",
    ISOLATE_MAX_EXECUTIONS: "maxExecutions",
    ISOLATE_FETCH_ALLOW: "fetchAllow",
    ISOLATE_FETCH_TIMEOUT_MS: "fetchTimeoutMs",
    ISOLATE_FETCH_MAX_BYTES: "fetchMaxBytes",
    ISOLATE_FETCH_ALLOW_PRIVATE: "fetchAllowPrivate",
    ISOLATE_WASM: "wasm",
  },
  settings: z.object({
    poolSize: setting.int(0, 64).default(2),
    /** The ceiling a burst grows the pool to (each idle isolate holds a few MB until demand falls). */
    poolMax: setting.int(0, 256).default(8),
    memoryMb: setting.int(8, 4096).default(256),
    maxExecutions: setting.int(1).default(500),
    fetchAllow: setting.names().default([]),
    fetchTimeoutMs: setting.int(1).default(10_000),
    fetchMaxBytes: setting.int(1).default(5 * 1024 * 1024),
    /** Internal addresses (loopback, private, link-local) become reachable for allowed hosts. */
    fetchAllowPrivate: setting.boolean().default(false),
    /** WebAssembly in guest contexts: its memory is outside memoryMb, so the isolate then claims only "process". */
    wasm: setting.boolean().default(false),
  }),
  create: (settings) => new IsolateRuntime(settings),
});
