import { z } from "zod";
import { defineRuntime } from "coderouter";
import { WorkerRuntime } from "./runtime.js";

/**
 * A coderouter plug-in, registered with `createRouter({ runtimes: [workerRuntime] })` or, for the
 * CLI and the server, with CODEROUTER_RUNTIME_PLUGINS=worker=<this module>.
 */
export const workerRuntime = defineRuntime({
  id: "worker",
  description: "JavaScript and TypeScript in a fresh Node worker thread per execution (trusted code: same process)",
  env: { WORKER_RUNTIME_MEMORY_MB: "memoryMb" },
  settings: z.object({ memoryMb: z.coerce.number().int().min(16).default(256) }),
  create: (settings, shared) => new WorkerRuntime(settings, shared),
});

export default workerRuntime;
export { WorkerRuntime };
