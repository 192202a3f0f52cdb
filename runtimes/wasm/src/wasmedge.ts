import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runtimeResult, watchLimits, type NormalizedRequest, type RuntimeResult } from "@coderouter/core";
import { inModuleDir, moduleError } from "./module-run.js";

/**
 * A WASI module under the WasmEdge CLI: `wasmedge --dir /work:<dir> --env K=V … main.wasm args`,
 * in a process group of its own with an empty environment, its output streamed as it is written.
 * A timeout, an abort or the output cap kills the group.
 */
export function runWasmEdge(request: NormalizedRequest, bin: string): Promise<RuntimeResult> {
  const started = performance.now();
  return inModuleDir("coderouter-wasmedge-", async ({ dir, workdir }) => {
    const modulePath = join(dir, "main.wasm");
    await writeFile(modulePath, Buffer.from(request.code, "base64"));
    const env = Object.entries(request.env ?? {}).flatMap(([k, v]) => ["--env", `${k}=${v}`]);
    const child = spawn(bin, ["--dir", `/work:${workdir}`, ...env, modulePath, ...(request.args ?? [])], {
      cwd: workdir,
      env: {},
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const killGroup = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    };
    const limits = watchLimits(request, killGroup);
    child.stdout!.on("data", (chunk: Buffer) => limits.stdout.write(chunk));
    child.stderr!.on("data", (chunk: Buffer) => limits.stderr.write(chunk));
    try {
      const exitCode = await new Promise<number | null>((resolve, reject) => {
        child.once("error", reject);
        child.once("close", (code) => resolve(code));
      });
      const error = moduleError(request, limits.ending(), exitCode);
      return runtimeResult("wasm", request, started, { error, stdout: limits.stdout, stderr: limits.stderr, output: exitCode ?? null });
    } finally {
      limits.dispose();
      killGroup();
    }
  });
}
