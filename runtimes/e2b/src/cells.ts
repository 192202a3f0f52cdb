import {
  asyncFunctionSource,
  javascriptRunnerSource,
  pythonRunnerSource,
  type Language,
  type NormalizedRequest,
  type PreparedJavaScript,
} from "@coderouter/core";

/**
 * The code cells sent to E2B's interpreter. A context is first given a prelude that defines
 * `__coderouter_run` from the same wrappers the local runtimes use (coderouter_runner.py,
 * to-output.cjs); each execution is then one short cell calling it with the user's code and
 * inputs as base64 data, never spliced into source. The result comes back as the cell's displayed
 * value: an object whose MIME bundle holds application/json, which the interpreter returns in the
 * main result's `json`.
 */

const base64 = (text: string) => Buffer.from(text).toString("base64");
const RESULT_TEXT = "coderouter result";

let pythonPrelude: string | undefined;
let javascriptPrelude: string | undefined;

/** Defines `__coderouter_run` in a fresh context; sent once per context, ahead of its execution. */
export function preludeCell(language: Language): string {
  if (language === "python") return (pythonPrelude ??= pythonPreludeCell());
  return (javascriptPrelude ??= javascriptPreludeCell());
}

export function pythonCell(request: NormalizedRequest): string {
  const payload = base64(JSON.stringify({ code: request.code, inputs: request.inputs, memoryMb: request.memoryMb }));
  return `__coderouter_run("${payload}")`;
}

/** JavaScript and TypeScript: the snippet was prepared (types stripped, last expression returned) on the host. */
export function javascriptCell(request: NormalizedRequest, prepared: Extract<PreparedJavaScript, { ok: true }>): string {
  const { source } = asyncFunctionSource(prepared.body);
  const payload = base64(JSON.stringify({ source, filename: prepared.filename, inputs: request.inputs }));
  return `await globalThis.__coderouter_run("${payload}")`;
}

function pythonPreludeCell(): string {
  // IPython runs cells inside a running asyncio loop, where asyncio.run() (top-level await in the
  // runner) is refused: such code then runs on a thread of its own.
  return `def __coderouter_define():
${indent(pythonRunnerSource(), "    ")}
    import asyncio, base64, json, resource, threading

    class Result:
        def __init__(self, result):
            self.result = result

        def _repr_json_(self):
            return self.result

        def __repr__(self):
            return ${JSON.stringify(RESULT_TEXT)}

    def run(payload):
        request = json.loads(base64.b64decode(payload))
        # The request's memory limit, unless the sandbox's own is already lower.
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        if request.get("memoryMb") and hard != resource.RLIM_INFINITY and request["memoryMb"] * 1048576 >= hard:
            request["memoryMb"] = None
        runner.apply_limits(request, cpu=False)
        try:
            asyncio.get_running_loop()
            in_loop = "await" in request["code"]
        except RuntimeError:
            in_loop = False
        if in_loop:
            box = []
            worker = threading.Thread(target=lambda: box.append(runner.run(request["code"], request["inputs"])))
            worker.start()
            worker.join()
            result = box[0]
        else:
            result = runner.run(request["code"], request["inputs"])
        try:
            json.dumps(result, allow_nan=False)
        except (TypeError, ValueError) as exc:
            result = runner.error_result("runtime", exc, "")
        return Result(result)

    return run


__coderouter_run = __coderouter_define()
del __coderouter_define
`;
}

function javascriptPreludeCell(): string {
  return `(() => {
  const run = ${javascriptRunnerSource()};
  const display = async (payload) => {
    const result = await run(payload);
    return { [Symbol.for("Jupyter.display")]: () => ({ "application/json": result, "text/plain": ${JSON.stringify(RESULT_TEXT)} }) };
  };
  Object.defineProperty(globalThis, "__coderouter_run", { value: display, enumerable: false });
})()
`;
}

const indent = (text: string, by: string) => text.split("\n").map((line) => by + line).join("\n");

/** A cell that installs packages with the interpreter's own pip or npm; names travel as data. */
export function installCell(language: Language, packages: string[]): string {
  const names = base64(JSON.stringify(packages));
  if (language === "python") {
    return `import base64 as __b, json as __j, subprocess as __s, sys as __y
__r = __s.run([__y.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *__j.loads(__b.b64decode("${names}"))], capture_output=True, text=True)
print(__r.stdout + __r.stderr, end="")
__r.returncode`;
  }
  return `const { spawnSync } = await import("node:child_process");
const __r = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--silent", ...JSON.parse(atob("${names}"))], { encoding: "utf8" });
console.log((__r.stdout ?? "") + (__r.stderr ?? ""));
__r.status`;
}
