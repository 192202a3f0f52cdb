import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { normalizedRequest as request } from "@coderouter/conformance";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WasmRuntime } from "../src/index.js";
import { testRuntime } from "./test-runtime.js";

// The attacks of the issue-12 security review, as the attacker wrote them: Python in Pyodide
// reaching the host through the JavaScript of Pyodide's own Emscripten module.
let runtime: WasmRuntime;
let dir: string;
beforeAll(() => {
  runtime = testRuntime();
  dir = mkdtempSync(join(tmpdir(), "coderouter-wasm-escape-"));
});
afterAll(async () => {
  await runtime.close();
  rmSync(dir, { recursive: true, force: true });
});

const python = (code: string, isolation: "sandbox" | "process" = "sandbox") => runtime.execute(request({ code, isolation, timeoutMs: 60_000 }));

/** Python that gets ctypes back even past the import guard (whose closure holds the real create_builtin). */
const CTYPES_PAST_THE_GUARD = `import sys, _imp, importlib.machinery as M
real = _imp.create_builtin.__closure__[0].cell_contents
sys.modules["_ctypes"] = real(M.ModuleSpec("_ctypes", M.BuiltinImporter, origin="built-in"))
sys.meta_path[:] = [f for f in sys.meta_path if "Coderouter" not in getattr(f, "__name__", "")]
import ctypes
lib = ctypes.CDLL(None)
`;

describe("wasm Python against the host", () => {
  it("refuses the reviewer's reproducer: ctypes' emscripten_run_script_string never runs require('child_process')", async () => {
    const marker = join(dir, "rce");
    const result = await python(`import ctypes
run = ctypes.CDLL(None).emscripten_run_script_string
run.restype = ctypes.c_char_p
print(run(b"require('child_process').execSync('id; touch ${marker}').toString()").decode())`);
    expect(result.ok).toBe(false);
    expect(result.error?.message).toMatch(/ctypes is not available/);
    expect(result.stdout).not.toMatch(/uid=/);
    expect(existsSync(marker)).toBe(false);
  }, 120_000);

  it("refuses eval in the module's scope for every run_script function, even with ctypes regained", async () => {
    const calls = {
      run_script: `lib.emscripten_run_script(b"require('fs').writeFileSync('${join(dir, "a")}', 'x')")`,
      run_script_int: `lib.emscripten_run_script_int(b"require('fs').writeFileSync('${join(dir, "b")}', 'x'), 7")`,
      run_script_string: `f = lib.emscripten_run_script_string\nf.restype = ctypes.c_char_p\nprint(f(b"typeof process + typeof require"))`,
    };
    for (const [name, call] of Object.entries(calls)) {
      const result = await python(`${CTYPES_PAST_THE_GUARD}${call}`);
      expect(result.ok, name).toBe(false);
      expect(result.error?.message, name).toMatch(/eval is not available/);
    }
    expect(existsSync(join(dir, "a")) || existsSync(join(dir, "b"))).toBe(false);
  }, 180_000);

  it("gives libc's system() and dlopen of host libraries nothing, even with ctypes regained", async () => {
    const marker = join(dir, "libc-system");
    const result = await python(`${CTYPES_PAST_THE_GUARD}out = [lib.system(b"touch ${marker}")]
for path in ("/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6", "${process.execPath}"):
    try:
        ctypes.CDLL(path)
        out.append("loaded " + path)
    except OSError:
        pass
out`);
    expect(result.output).toEqual([127 << 8]);
    expect(existsSync(marker)).toBe(false);
  }, 60_000);

  it("gives os.system no shell on the host", async () => {
    const marker = join(dir, "system");
    const result = await python(`import os\nos.system("touch ${marker}")`);
    expect(result.output).toBe(127 << 8);
    expect(existsSync(marker)).toBe(false);
  }, 60_000);

  it("refuses ctypes and the bridge's built-ins through _imp.create_builtin, past the meta path", async () => {
    const result = await python(`import _imp, importlib.machinery as M
out = []
for name in ("_pyodide_core", "_ctypes"):
    try:
        _imp.create_builtin(M.ModuleSpec(name, M.BuiltinImporter, origin="built-in"))
        out.append(name + " loaded")
    except ImportError as e:
        out.append(str(e))
out`);
    expect(result.output).toEqual([expect.stringMatching(/_pyodide_core is not available/), expect.stringMatching(/_ctypes is not available/)]);
  }, 60_000);

  it("leaves _pyodide_core's proxies no way to a Function that runs a string", async () => {
    const result = await python(`import _imp, importlib.machinery as M
core = _imp.create_builtin.__closure__[0].cell_contents(M.ModuleSpec("_pyodide_core", M.BuiltinImporter, origin="built-in"))
Array = core.to_js([1, 2]).constructor
out = [Array.constructor is None]
try:
    Array.__proto__.constructor("return 1")
    out.append("ran")
except Exception as e:
    out.append(type(e).__name__)
out`);
    expect(result.output).toEqual([true, "TypeError"]);
  }, 60_000);

  it("replaces an interpreter that failed, so the next execution below sandbox runs", async () => {
    const failed = await python(`${CTYPES_PAST_THE_GUARD}lib.emscripten_run_script(b"1")`, "process");
    expect(failed.error?.message).toMatch(/eval is not available/);
    expect((await python("6 * 7", "process")).output).toBe(42);
  }, 120_000);
});

describe("wasm Pyodide snapshot", () => {
  it("is handed to every worker shared, not copied, and no worker can write to it once its interpreter loads", async () => {
    await python("1");
    const pool = runtime as unknown as { pyodideSnapshot?: SharedArrayBuffer; pyodide: { options: { workerData: () => { snapshot: SharedArrayBuffer } } } };
    const shared = pool.pyodideSnapshot!;
    expect(shared).toBeInstanceOf(SharedArrayBuffer);
    expect(pool.pyodide.options.workerData().snapshot).toBe(shared);
    const before = createHash("sha256").update(new Uint8Array(shared)).digest("hex");
    // What the reviewer's tenant did from inside a worker: overwrite its workerData.snapshot, here
    // after the worker's own start-up took its copy, as it does before loading the interpreter.
    const takeSnapshot = new URL("../workers/shared-snapshot.mjs", import.meta.url).href;
    const worker = new Worker(
      `const { workerData, parentPort } = require("node:worker_threads");
import(${JSON.stringify(takeSnapshot)}).then(({ takeSnapshot }) => {
  const own = takeSnapshot(workerData);
  own.fill(0x41, 0, 64);
  parentPort.postMessage({ own: own[0], shared: workerData.snapshot });
});`,
      { eval: true, workerData: pool.pyodide.options.workerData() },
    );
    const seen = await new Promise((resolve) => worker.once("message", resolve));
    await worker.terminate();
    expect(seen).toEqual({ own: 0x41, shared: undefined });
    // Interpreters restored from it run and end (sandbox), and leave it as it was.
    for (let i = 0; i < 3; i++) expect((await python("import sys\nsys.modules.clear()\n6 * 7")).output).toBe(42);
    expect(createHash("sha256").update(new Uint8Array(shared)).digest("hex")).toBe(before);
    expect((await python("import sys\nsys.version.split()[0]")).output).toMatch(/^3\.12\./);
  }, 120_000);

  it("hands every later worker the WebAssembly module the first one compiled, so none compiles its own", async () => {
    await python("1");
    const pool = runtime as unknown as { pyodideModule?: WebAssembly.Module; pyodide: { options: { workerData: () => { wasmModule?: WebAssembly.Module } } } };
    expect(pool.pyodideModule).toBeInstanceOf(WebAssembly.Module);
    expect(pool.pyodide.options.workerData().wasmModule).toBe(pool.pyodideModule);
    // Two interpreters instantiated from it, one after the other, each with memory of its own.
    expect((await python("import builtins\nbuiltins.marker = 1\n2")).output).toBe(2);
    expect((await python("import builtins\nhasattr(builtins, 'marker')")).output).toBe(false);
  }, 120_000);
});

describe("wasm result channel", () => {
  it("caps the output value at maxOutputBytes, with kind output_limit, in Python and QuickJS", async () => {
    const small = { maxOutputBytes: 100_000, timeoutMs: 60_000 };
    const py = await runtime.execute(request({ code: "'x' * 200_000", isolation: "process", ...small }));
    expect(py.error).toMatchObject({ kind: "output_limit", name: "OutputLimitError" });
    const js = await runtime.execute(request({ language: "javascript", code: `"€".repeat(50_000)`, ...small }));
    expect(js.error).toMatchObject({ kind: "output_limit", name: "OutputLimitError" });
    expect((await runtime.execute(request({ language: "javascript", code: `"€".repeat(30_000)`, ...small }))).output).toHaveLength(30_000);
  }, 120_000);

  it("believes no limit a forged report claims: the host gives those kinds", async () => {
    const forged = `{"error":{"kind":"timeout","name":"TimeoutError","message":"forged","traceback":""}}`;
    const js = await runtime.execute(request({ language: "javascript", code: `JSON.stringify = () => '${forged}'; 1` }));
    expect(js.error?.kind).toBe("runtime");
    const py = await runtime.execute(request({ code: `import json\njson.dumps = lambda *a, **k: '${forged}'\n1`, isolation: "process", timeoutMs: 60_000 }));
    expect(py.error?.kind).toBe("runtime");
  }, 120_000);
});
