import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { runtimeResult, watchLimits, type ExecutionError, type NormalizedRequest, type RuntimeResult } from "@coderouter/core";
import { inModuleDir, moduleError } from "./module-run.js";

/** How often the output files are checked against the cap while the module runs. */
const OUTPUT_POLL_MS = 50;

/**
 * A WASI module (language "wasm", `code` = its bytes in base64) on a worker thread of its own, with
 * a fresh working directory preopened as /work. A timeout, an abort or the output cap terminates
 * the worker. Its output is read when it ends (WASI writes to file descriptors, not to us).
 */
export function runWasi(request: NormalizedRequest): Promise<RuntimeResult> {
  const started = performance.now();
  return inModuleDir("coderouter-wasi-", async ({ dir, workdir }) => {
    const files = { stdoutPath: join(dir, "stdout"), stderrPath: join(dir, "stderr") };
    const worker = new Worker(new URL("../workers/wasi-worker.mjs", import.meta.url), {
      workerData: { module: Buffer.from(request.code, "base64"), args: request.args ?? [], env: request.env ?? {}, workdir, ...files },
      env: {},
      stdout: true,
      stderr: true,
    });
    const limits = watchLimits(request, () => void worker.terminate());
    const watch = setInterval(() => {
      void Promise.all([stat(files.stdoutPath), stat(files.stderrPath)]).then(
        ([out, err]) => (out.size > request.maxOutputBytes || err.size > request.maxOutputBytes) && limits.end("output_limit"),
        () => {},
      );
    }, OUTPUT_POLL_MS);
    try {
      const reported = await new Promise<{ exitCode?: number; error?: ExecutionError } | undefined>((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
        worker.once("exit", () => resolve(undefined));
      });
      for (const [stream, path] of [
        [limits.stdout, files.stdoutPath],
        [limits.stderr, files.stderrPath],
      ] as const) {
        stream.write(await readFile(path).catch(() => Buffer.alloc(0)));
      }
      const error = moduleError(request, limits.ending(), reported?.exitCode, reported?.error);
      return runtimeResult("wasm", request, started, { error, stdout: limits.stdout, stderr: limits.stderr, output: reported?.exitCode ?? null });
    } finally {
      limits.dispose();
      clearInterval(watch);
      await worker.terminate();
    }
  });
}
