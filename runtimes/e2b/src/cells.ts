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
 * to-output.cjs); each execution is then one short cell calling it with the user's code, inputs
 * and environment as base64 data, never spliced into source (the interpreter's own `env_vars`
 * would be: it writes them into the cell unquoted). The result comes back as the cell's displayed
 * value: an object whose MIME bundle holds application/json (IPython's `_repr_json_`, nel's
 * `_toMime()` in E2B's ijavascript kernel), which the interpreter returns in the result's `json`.
 *
 * The interpreter prepends the sandbox's environment to a context's first cell as assignment
 * lines without a terminator (`process.env['E2B_SANDBOX'] = 'true'`), so each cell starts with a
 * statement that a preceding expression cannot swallow.
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

/** `session`: the code runs in the context's one namespace, kept between cells, as a session's must. */
export function pythonCell(request: NormalizedRequest, { session = false } = {}): string {
  const payload = base64(JSON.stringify({ code: request.code, inputs: request.inputs, env: request.env ?? {}, memoryMb: request.memoryMb, session }));
  return `__coderouter_run("${payload}")`;
}

/** JavaScript and TypeScript: the snippet was prepared (types stripped, last expression returned) on the host. */
export function javascriptCell(request: NormalizedRequest, prepared: Extract<PreparedJavaScript, { ok: true }>): string {
  const { source } = asyncFunctionSource(prepared.body);
  const payload = base64(JSON.stringify({ source, filename: prepared.filename, inputs: request.inputs, env: request.env ?? {} }));
  return `;await globalThis.__coderouter_run("${payload}")`;
}

function pythonPreludeCell(): string {
  // IPython runs cells inside a running asyncio loop, where asyncio.run() (top-level await in the
  // runner) is refused: such code then runs on a thread of its own.
  return `def __coderouter_define():
${indent(pythonRunnerSource(), "    ")}
    import asyncio, base64, builtins, json, os, resource, threading

    # The kernel shows figures and display() itself (the inline backend, IPython's display).
    runner.with_artifacts = lambda result: result
    runner.display = getattr(builtins, "display", runner.display)

    class Result:
        def __init__(self, result):
            self.result = result

        def _repr_json_(self):
            return self.result

        def __repr__(self):
            return ${JSON.stringify(RESULT_TEXT)}

    def limit_memory(megabytes):
        """Bounds what the code may add to the kernel's address space (the kernel already maps
        ~790 MB on E2B: a limit on the whole would starve it). Returns the limit to restore."""
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/status") as status:
            used = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
        wanted = used + megabytes * 1048576
        if hard != resource.RLIM_INFINITY and wanted >= hard:
            return None
        resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
        return soft, hard

    # A session's namespace: a __main__ module of its own, made on the first session cell.
    session_scope = []

    def scope_for(request):
        if not request.get("session"):
            return None
        if not session_scope:
            session_scope.append(runner.make_globals({}))
        return session_scope[0]

    def run(payload):
        request = json.loads(base64.b64decode(payload))
        scope = scope_for(request)
        env = request.get("env") or {}
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        previous = limit_memory(request["memoryMb"]) if request.get("memoryMb") else None
        try:
            try:
                asyncio.get_running_loop()
                in_loop = "await" in request["code"]
            except RuntimeError:
                in_loop = False
            if in_loop:
                box = []
                worker = threading.Thread(target=lambda: box.append(runner.run(request["code"], request["inputs"], scope)))
                worker.start()
                worker.join()
                result = box[0]
            else:
                result = runner.run(request["code"], request["inputs"], scope)
        finally:
            if previous:
                resource.setrlimit(resource.RLIMIT_AS, previous)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        try:
            json.dumps(result, allow_nan=False)
        except (TypeError, ValueError) as exc:
            result = runner.error_result("runtime", exc, "")
        return Result(result)

    # A first run pays the runner's one-time costs (imports, codecs) here, off the request's clock.
    runner.run("None", {})
    return run


__coderouter_run = __coderouter_define()
del __coderouter_define
`;
}

function javascriptPreludeCell(): string {
  // The environment is the process's for the run, then put back as it was.
  return `;(() => {
  const run = ${javascriptRunnerSource()};
  const withEnv = async (payload) => {
    const { env } = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))));
    const saved = Object.keys(env ?? {}).map((key) => [key, process.env[key]]);
    Object.assign(process.env, env);
    try {
      return await run(payload);
    } finally {
      for (const [key, value] of saved) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  };
  const display = async (payload) => {
    const result = await withEnv(payload);
    return { _toMime: () => ({ "application/json": result, "text/plain": ${JSON.stringify(RESULT_TEXT)} }) };
  };
  Object.defineProperty(globalThis, "__coderouter_run", { value: display, enumerable: false });
})();
`;
}

const indent = (text: string, by: string) =>
  text
    .split("\n")
    .map((line) => by + line)
    .join("\n");

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
