// One Pyodide interpreter in a worker thread. It runs one execution at a time through
// coderouter's Python runner (the same file the local runtimes use), in a fresh namespace each
// time; the pool gives a `sandbox` execution an interpreter that has never run anything and ends
// it afterwards. The interpreter is restored from a memory snapshot when the pool has one (made by
// the first worker right after loading, before any user code), several times faster than a cold
// load. Pyodide's Emscripten module is loaded with no eval, require or import() of its own
// (pyodide-loader.mjs). Before any user code runs, the bridge from Python to JavaScript is cut: the
// `js` and `pyodide_js` modules are unregistered, Pyodide's own packages and ctypes are removed and
// refused on import (pyodide_protections.py), the JS-side globals Python could reach are empty,
// and eval and the constructors that would turn a string into JavaScript are gone from this thread.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import { loadPyodide } from "pyodide";
import { defineConfinedPyodideModule } from "./pyodide-loader.mjs";
import { takeSnapshot } from "./shared-snapshot.mjs";

const { runnerSource, wasmModule: sharedModule, makeSnapshot } = workerData;
const snapshot = takeSnapshot(workerData);

// Pyodide finds its files from a stack trace unless told: with source maps on, that points elsewhere.
const indexURL = `${dirname(createRequire(import.meta.url).resolve("pyodide/package.json"))}/`;
defineConfinedPyodideModule(indexURL);
// Pyodide's WebAssembly is compiled by the first worker and shared with every later one (the pool
// hands it over with the snapshot; a module's code is immutable, each instance has its own memory):
// a new worker compiles nothing, and what V8 has optimised for one worker serves the next one's
// first executions too.
const wasmModule = sharedModule ?? (await WebAssembly.compile(readFileSync(`${indexURL}pyodide.asm.wasm`)));
const createPyodideModule = globalThis._createPyodideModule;
globalThis._createPyodideModule = (settings) => {
  settings.instantiateWasm = (imports, receiveInstance) => {
    // A failure rejects unhandled and ends the worker, which the pool reports and replaces.
    WebAssembly.instantiate(wasmModule, imports).then((instance) => receiveInstance(instance, wasmModule));
    return {};
  };
  return createPyodideModule(settings);
};
const pyodide = await loadPyodide({
  indexURL,
  jsglobals: Object.create(null),
  env: { HOME: "/home/pyodide" },
  ...(snapshot ? { _loadSnapshot: snapshot } : { _makeSnapshot: Boolean(makeSnapshot) }),
});
if (!snapshot && makeSnapshot) {
  // The modules every execution needs, imported once into the snapshot; nothing of a tenant is in it yet.
  pyodide.runPython("import json, os, sys, asyncio, selectors, time, traceback, ast, types");
  const bytes = pyodide.makeMemorySnapshot();
  // Posted as a copy: the pool shares it with later workers from a buffer this worker never holds.
  parentPort.postMessage({ type: "snapshot", bytes, module: wasmModule });
}
let stream = null;
const writer = (name) => ({
  write(bytes) {
    if (stream) stream(name, Buffer.from(bytes).toString("utf8"));
    return bytes.length;
  },
});
pyodide.setStdout(writer("stdout"));
pyodide.setStderr(writer("stderr"));
pyodide.FS.mkdirTree("/coderouter");
pyodide.FS.writeFile("/coderouter/coderouter_runner.py", runnerSource);
pyodide.runPython(`
import sys
sys.path.insert(0, "/coderouter")
import coderouter_runner
del sys.path[0]
`);
const run = pyodide.globals.get("coderouter_runner").run;
const loads = pyodide.runPython("import json\njson.loads");
const dumps = pyodide.runPython("import json\nlambda value: json.dumps(value, allow_nan=False)");

// Pyodide's asyncio loop is driven by JavaScript (and needs the bridge cut below): code with
// top-level await runs on a plain event loop instead, whose only way to wait is to sleep.
pyodide.runPython(`
import asyncio, selectors, time

class SleepSelector(selectors.BaseSelector):
    def __init__(self):
        self._map = {}

    def register(self, fileobj, events, data=None):
        raise OSError("there are no file descriptors to watch in the WebAssembly sandbox")

    def unregister(self, fileobj):
        raise KeyError(fileobj)

    def select(self, timeout=None):
        if timeout:
            time.sleep(timeout)
        return []

    def get_map(self):
        return self._map

    def close(self):
        pass

class SandboxLoop(asyncio.SelectorEventLoop):
    def __init__(self):
        super().__init__(SleepSelector())

    def _make_self_pipe(self):
        pass

    def _close_self_pipe(self):
        pass

    def _write_to_self(self):
        pass

def run(main, debug=None):
    outer = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    loop = SandboxLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()
        asyncio.events._set_running_loop(outer)

asyncio.run = run
`);
const setEnvironment = pyodide.runPython(`
import os
BASE_ENV = dict(os.environ)
def set_environment(extra):
    os.environ.clear()
    os.environ.update(BASE_ENV)
    os.environ.update(extra)
set_environment
`);

pyodide.unregisterJsModule("js");
pyodide.unregisterJsModule("pyodide_js");
pyodide.runPython(readFileSync(new URL("./pyodide_protections.py", import.meta.url), "utf8"));
const restoreProtections = pyodide.globals.get("restore_protections");
// Python buffers what print() writes until a newline or a full buffer: what is still buffered when
// the code returns belongs to this execution, so it is flushed while this execution's stream is set
// (left in the buffer, it would open the next execution's stdout, maybe another tenant's), and so is
// what the code's garbage prints as it is collected.
const flushOutput = pyodide.runPython(`
import gc

def flush_output():
    # What the run left behind is collected now, while its output is still this execution's
    # (an asyncio task it never awaited says so when it is destroyed).
    gc.collect()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass
flush_output
`);
for (const proto of [
  Function.prototype,
  Object.getPrototypeOf(async () => {}),
  Object.getPrototypeOf(function* () {}),
  Object.getPrototypeOf(async function* () {}),
]) {
  Object.defineProperty(proto, "constructor", { value: undefined, writable: false, configurable: false });
}
// eval and Function would run a string as JavaScript in this thread's global scope, where import()
// reaches every Node module. Pyodide checks `instanceof Function`, so Function stays as a
// constructor that refuses, with the same prototype.
const refusedFunction = function RefusedFunction() {
  throw new Error("Function is not available: coderouter's WebAssembly sandbox runs no JavaScript from Python");
};
refusedFunction.prototype = Function.prototype;
Object.defineProperty(globalThis, "Function", { value: refusedFunction, writable: false, configurable: false });
for (const name of ["process", "fetch", "WebSocket", "require", "global", "eval", "_createPyodideModule"]) {
  try {
    delete globalThis[name];
  } catch {
    // Not deletable here: left as is.
  }
}

/**
 * One execution: `code` with `inputs` and `env` (JSON texts). Returns the runner's report as JSON,
 * and whether the interpreter itself failed (it then serves no one else: the pool replaces it).
 */
function execute({ code, inputs, env }) {
  let result;
  let interpreterFailed = false;
  try {
    restoreProtections();
    const pyEnv = loads(env);
    setEnvironment(pyEnv);
    pyEnv.destroy?.();
    const pyInputs = loads(inputs);
    const raw = run(code, pyInputs);
    pyInputs.destroy?.();
    try {
      result = dumps(raw);
    } catch (error) {
      result = JSON.stringify({ error: { kind: "runtime", name: "ValueError", message: String(error.message).split("\n").at(-2) ?? "", traceback: "" } });
    }
    raw?.destroy?.();
  } catch (error) {
    result = JSON.stringify({ error: { kind: "runtime", name: "InterpreterError", message: String(error.message ?? error), traceback: "" } });
    // Pyodide's fatal error, e.g. after a refused eval.
    interpreterFailed = true;
  }
  try {
    flushOutput();
  } catch {
    // A stream the code broke: nothing more of it can be saved.
  }
  return { json: result, retire: interpreterFailed };
}

// One run of our own before any tenant's, through the same path as theirs: an interpreter's first
// execution pays for compiling the WebAssembly functions and Python paths it touches (19 ms p50
// against 0.4 ms warm, measured), and that belongs off the critical path of a spare. Its output goes
// nowhere (no stream is set) and it leaves nothing a tenant could use: the same namespace rules and
// protections apply to the next run as to any.
execute({ code: "sum([1, 2])", inputs: "{}", env: "{}" });
// What start-up and that run left is frozen out of the collector: flush_output's gc.collect() then
// walks only what an execution made, not the whole interpreter (measured at a load average of 10 on
// the 2 cores: 0.1–0.2 ms p50 frozen, against 26 ms on a reused interpreter and 42 ms on a fresh one).
pyodide.runPython("import gc\ngc.collect()\ngc.freeze()");

parentPort.on("message", (request) => {
  stream = (name, text) => parentPort.postMessage({ type: name, text });
  const { json, retire } = execute(request);
  stream = null;
  parentPort.postMessage({ type: "result", json, retire });
});
parentPort.postMessage({ type: "ready" });
