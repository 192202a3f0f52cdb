import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { limitError, OutputStream, runtimeResult, type ExecutionError, type LimitKind, type NormalizedRequest, type RuntimeResult } from "@coderouter/core";

/** How often the output files are checked against the cap while the module runs. */
const OUTPUT_POLL_MS = 50;

/**
 * A WASI module (language "wasm", `code` = its bytes in base64) on a worker thread of its own, with
 * a fresh working directory preopened as /work. A timeout, an abort or the output cap terminates
 * the worker. Its output is read when it ends (WASI writes to file descriptors, not to us).
 */
export async function runWasi(request: NormalizedRequest): Promise<RuntimeResult> {
  const started = performance.now();
  const module = Buffer.from(request.code, "base64");
  const stdout = new OutputStream(request.maxOutputBytes, request.onStdout);
  const stderr = new OutputStream(request.maxOutputBytes, request.onStderr);
  const dir = await mkdtemp(join(tmpdir(), "coderouter-wasi-"));
  const workdir = join(dir, "work");
  const files = { stdoutPath: join(dir, "stdout"), stderrPath: join(dir, "stderr") };
  await mkdir(workdir);
  const worker = new Worker(new URL("../workers/wasi-worker.mjs", import.meta.url), {
    workerData: { module, args: request.args ?? [], env: request.env ?? {}, workdir, ...files },
    env: {},
    stdout: true,
    stderr: true,
  });
  let limit: LimitKind | undefined;
  const end = (kind: LimitKind) => {
    limit ??= kind;
    void worker.terminate();
  };
  const timer = setTimeout(() => end("timeout"), request.timeoutMs);
  const onAbort = () => end("killed");
  if (request.signal?.aborted) onAbort();
  request.signal?.addEventListener("abort", onAbort, { once: true });
  const watch = setInterval(() => {
    void Promise.all([stat(files.stdoutPath), stat(files.stderrPath)]).then(
      ([out, err]) => (out.size > request.maxOutputBytes || err.size > request.maxOutputBytes) && end("output_limit"),
      () => {},
    );
  }, OUTPUT_POLL_MS);
  try {
    const reported = await new Promise<{ exitCode?: number; error?: ExecutionError } | undefined>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
      worker.once("exit", () => resolve(undefined));
    });
    for (const [stream, path] of [[stdout, files.stdoutPath], [stderr, files.stderrPath]] as const) {
      stream.write(await readFile(path).catch(() => Buffer.alloc(0)));
    }
    const error: ExecutionError | undefined = limit
      ? limitError(limit, request)
      : reported?.error ??
        (reported?.exitCode ? { kind: "runtime", name: "ExitError", message: `the module exited with code ${reported.exitCode}` } : undefined);
    return runtimeResult("wasm", request, started, { error, stdout, stderr, output: reported?.exitCode ?? null });
  } finally {
    clearTimeout(timer);
    clearInterval(watch);
    request.signal?.removeEventListener("abort", onAbort);
    await worker.terminate();
    await rm(dir, { recursive: true, force: true });
  }
}
