import { readFileSync } from "node:fs";
import { runnerFiles } from "./runner-files.js";

/**
 * The shared wrappers as source text, for runtimes that run code in an interpreter they did not
 * start with our files at hand (a cloud sandbox's kernel, a container on a cluster): they embed
 * these and get the same input, output and error rules as the local runtimes.
 */

const base64 = (text: string) => Buffer.from(text).toString("base64");
let python: string | undefined;
let javascript: string | undefined;

/**
 * Python statements that define `runner`, the coderouter_runner module, from its source embedded
 * as base64 (tracebacks name it coderouter_runner.py, and the runner leaves its own frames out).
 */
export function pythonRunnerSource(): string {
  python ??= [
    "import base64 as _b, types as _t",
    'runner = _t.ModuleType("coderouter_runner")',
    'runner.__file__ = "coderouter_runner.py"',
    `exec(compile(_b.b64decode("${base64(readFileSync(runnerFiles.python, "utf8"))}").decode(), runner.__file__, "exec"), runner.__dict__)`,
  ].join("\n");
  return python;
}

/**
 * A JavaScript expression whose value is `run(payloadBase64) → Promise<{output} | {error}>`, for
 * a payload `{source, filename, inputs}` as JSON in base64 (see run-prepared.cjs).
 */
export function javascriptRunnerSource(): string {
  javascript ??= `(() => {
  const decode = (text) => new TextDecoder().decode(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)));
  const load = (source) => {
    const module = { exports: {} };
    new Function("module", "exports", decode(source))(module, module.exports);
    return module.exports;
  };
  const rules = load("${base64(readFileSync(runnerFiles.toOutput, "utf8"))}");
  const { runPrepared } = load("${base64(readFileSync(runnerFiles.runPrepared, "utf8"))}");
  return (payload) => runPrepared(JSON.parse(decode(payload)), rules);
})()`;
  return javascript;
}

/** A shared CommonJS wrapper file as an expression whose value is its `module.exports`. */
export function commonJsSource(path: string): string {
  return `(() => {\nconst module = { exports: {} };\n${readFileSync(path, "utf8")}\nreturn module.exports;\n})()`;
}
