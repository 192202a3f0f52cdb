import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { limitError, type Ending, type ExecutionError, type NormalizedRequest } from "@coderouter/core";

/** What one WASI module run works in, under either engine. */
export interface ModuleDir {
  /** Private to coderouter: the module's bytes, its captured output. */
  dir: string;
  /** Preopened as /work: the only directory the module can reach. */
  workdir: string;
}

/** Runs `fn` with a fresh directory for one module run, removed afterwards whatever happens. */
export async function inModuleDir<T>(prefix: string, fn: (paths: ModuleDir) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    const workdir = join(dir, "work");
    await mkdir(workdir);
    return await fn({ dir, workdir });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A module run's error: the limit that stopped it, what the engine reported, or a non-zero exit. */
export function moduleError(
  request: NormalizedRequest,
  ending: Ending,
  exitCode: number | null | undefined,
  reported?: ExecutionError,
): ExecutionError | undefined {
  if (ending !== "exited") return limitError(ending, request);
  if (reported) return reported;
  return exitCode ? { kind: "runtime", name: "ExitError", message: `the module exited with code ${exitCode}` } : undefined;
}
