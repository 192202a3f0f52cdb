import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { limitError, OutputStream, runtimeResult, type ExecutionError, type LimitKind, type NormalizedRequest, type RuntimeResult } from "@coderouter/core";

/**
 * A WASI module under the WasmEdge CLI: `wasmedge --dir /work:<dir> --env K=V … main.wasm args`,
 * in a process group of its own with an empty environment, its output streamed as it is written.
 * A timeout, an abort or the output cap kills the group.
 */
export async function runWasmEdge(request: NormalizedRequest, bin: string): Promise<RuntimeResult> {
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), "coderouter-wasmedge-"));
  const workdir = join(dir, "work");
  await mkdir(workdir);
  const modulePath = join(dir, "main.wasm");
  await writeFile(modulePath, Buffer.from(request.code, "base64"));
  let limit: LimitKind | undefined;
  const child = spawn(
    bin,
    [`--dir`, `/work:${workdir}`, ...Object.entries(request.env ?? {}).flatMap(([k, v]) => ["--env", `${k}=${v}`]), modulePath, ...(request.args ?? [])],
    { cwd: workdir, env: {}, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  const killGroup = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // Already gone.
    }
  };
  const end = (kind: LimitKind) => {
    limit ??= kind;
    killGroup();
  };
  const stdout = new OutputStream(request.maxOutputBytes, request.onStdout, () => end("output_limit"));
  const stderr = new OutputStream(request.maxOutputBytes, request.onStderr, () => end("output_limit"));
  child.stdout!.on("data", (chunk: Buffer) => stdout.write(chunk));
  child.stderr!.on("data", (chunk: Buffer) => stderr.write(chunk));
  const timer = setTimeout(() => end("timeout"), request.timeoutMs);
  const onAbort = () => end("killed");
  if (request.signal?.aborted) onAbort();
  request.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code) => resolve(code));
    });
    const error: ExecutionError | undefined = limit
      ? limitError(limit, request)
      : exitCode
        ? { kind: "runtime", name: "ExitError", message: `the module exited with code ${exitCode}` }
        : undefined;
    return runtimeResult("wasm", request, started, { error, stdout, stderr, output: exitCode ?? null });
  } finally {
    clearTimeout(timer);
    request.signal?.removeEventListener("abort", onAbort);
    killGroup();
    await rm(dir, { recursive: true, force: true });
  }
}
