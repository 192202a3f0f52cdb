import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The wrapper programs that run a snippet inside an interpreter (input injection, last-expression
 * output, result on fd 3). They ship as files so every runtime that starts an interpreter — a local
 * child process today, a sandbox or a remote machine later — runs the same wrapper.
 */
export const runnersDir = fileURLToPath(new URL("../runners/", import.meta.url));

export const runnerFiles = {
  python: join(runnersDir, "coderouter_runner.py"),
  /** Figures and display() as artifacts; imported by the Python runner when the code uses them. */
  display: join(runnersDir, "coderouter_display.py"),
  node: join(runnersDir, "node_runner.cjs"),
  toOutput: join(runnersDir, "to-output.cjs"),
  inspect: join(runnersDir, "inspect.cjs"),
  console: join(runnersDir, "console.cjs"),
  webGlobals: join(runnersDir, "web-globals.cjs"),
  url: join(runnersDir, "url.cjs"),
  runPrepared: join(runnersDir, "run-prepared.cjs"),
  /** Starts a bash script with its inputs file (see bash.ts). */
  bash: join(runnersDir, "coderouter_bash.sh"),
} as const;

/**
 * Interpreter arguments that run a Python wrapper found in `dir` (where a sandbox mounts it): the
 * one-shot runner, the fork-server that forks a runner per execution, or a session worker.
 * -I ignores PYTHON* variables and the user site; -u streams output as it is printed.
 */
export function pythonRunnerArgs(
  dir: string = runnersDir,
  module: "coderouter_runner" | "coderouter_forkserver" | "coderouter_session" = "coderouter_runner",
): string[] {
  const bootstrap = `import sys; sys.path.insert(0, ${JSON.stringify(dir)}); import ${module}; del sys.path[0]; ${module}.main()`;
  return ["-I", "-u", "-X", "utf8", "-c", bootstrap];
}
