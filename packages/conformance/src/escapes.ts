/**
 * Escape attempts for JavaScript sandboxes. Each snippet tries, by one published technique, to get
 * hold of a host object and from it the host's `process`; it evaluates to the evidence it found
 * (the host's Node version, a module, a secret) or null. A sandbox passes when every one is null
 * and the host is unharmed.
 *
 * `probe(x)` is the common last step of the vm2 exploits: climb x's constructor chain to a
 * Function constructor and ask it for `process`. Inside a sandbox that Function is the sandbox's own.
 */
const PROBE = `const probe = (o) => {
  try {
    const F = o && o.constructor && o.constructor.constructor;
    const p = F && F("return typeof process === 'object' && process && process.versions && process.versions.node ? process.versions.node : null")();
    return p || null;
  } catch {
    return null;
  }
};
let found = null;
const note = (o) => { found = found || probe(o); };
`;

export const JS_ESCAPES: { name: string; code: string }[] = [
  {
    name: "constructor chain from the global object and this",
    code: `${PROBE}note(this); note(globalThis); note({}); note([]); note(() => 1);\nfound`,
  },
  {
    name: "constructor chain from injected values (inputs, console, timers, process shim)",
    code: `${PROBE}note(inputs); note(inputs.nested); note(console); note(console.log); note(setTimeout); note(globalThis.process);
if (typeof globalThis.fetch === "function") note(fetch);
found`,
  },
  {
    name: "Error.prepareStackTrace reading frames (CVE-2022-36067, CVE-2023-29017)",
    code: `${PROBE}Error.prepareStackTrace = (error, frames) => {
  for (const frame of frames) {
    try { note(frame.getThis && frame.getThis()); note(frame.getFunction && frame.getFunction()); } catch {}
  }
  return "stack";
};
new Error("x").stack;
await Promise.reject(new Error("async")).catch((e) => e.stack);
try { null.f(); } catch (e) { e.stack; }
found`,
  },
  {
    name: "a Proxy as the error name (CVE-2023-30547)",
    code: `${PROBE}const error = new Error("boom");
error.name = { toString: new Proxy(() => "", { apply(target, self, args) { note(args); note(self); return ""; } }) };
try { console.log(error); } catch {}
found`,
  },
  {
    name: "Proxy traps on values handed to the host (CVE-2023-32314)",
    code: `${PROBE}const trap = new Proxy({}, {
  get(target, key, receiver) { note(receiver); return Reflect.get(target, key); },
  getPrototypeOf(target) { note(target); return Object.prototype; },
  ownKeys(target) { note(target); return []; },
});
try { console.log(trap); } catch {}
try { console.error("%o", trap); } catch {}
found`,
  },
  {
    name: "a custom inspect symbol (CVE-2023-37903)",
    code: `${PROBE}const hostile = { [Symbol.for("nodejs.util.inspect.custom")](depth, options, inspect) { note(options); note(inspect); return "custom"; } };
console.log(hostile);
console.log("%O", hostile);
found`,
  },
  {
    name: "Promise.prototype.then hijack (CVE-2023-37466)",
    code: `${PROBE}const then = Promise.prototype.then;
Promise.prototype.then = function (onFulfilled, onRejected) {
  note(onFulfilled); note(onRejected); note(this);
  return then.call(this, onFulfilled, onRejected);
};
await new Promise((resolve) => setTimeout(resolve, 1));
await Promise.resolve(1);
found`,
  },
  {
    name: "Symbol.species and toString tricks on errors",
    code: `${PROBE}class Evil extends Promise { static get [Symbol.species]() { note(this); return Promise; } }
await Evil.resolve(1).then((x) => x);
const odd = { toString() { note(this); return "odd"; }, valueOf() { note(this); return 1; } };
console.log(String(odd), odd + 1);
found`,
  },
  {
    name: "no Node globals: require, module, Buffer, __dirname, host import()",
    code: `const names = ["require", "module", "exports", "Buffer", "__dirname", "__filename", "global"];
let found = names.filter((n) => typeof globalThis[n] !== "undefined" || (() => { try { return typeof eval(n) !== "undefined"; } catch { return false; } })());
try { await import("node:fs"); found.push("import(node:fs)"); } catch {}
try { await import("fs"); found.push("import(fs)"); } catch {}
found.length ? found : null`,
  },
  {
    name: "no host environment variables",
    code: `const env = (globalThis.process && globalThis.process.env) || {};
const hits = Object.keys(env).filter((k) => k !== "GREETING");
hits.length ? hits : null`,
  },
];

/** Attacks on the host's resources: the runtime must end them with a result, and stay usable. */
export const JS_RESOURCE_ATTACKS: { name: string; code: string; kinds: string[] }[] = [
  // Engines without SharedArrayBuffer refuse it at once (runtime); the others block until the timeout.
  { name: "Atomics.wait forever", code: "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)", kinds: ["timeout", "runtime"] },
  { name: "unbounded recursion", code: "const f = () => f() + 1\nf()", kinds: ["runtime"] },
  { name: "a microtask flood", code: "const spin = () => Promise.resolve().then(spin)\nspin()\nawait new Promise(() => {})", kinds: ["timeout", "memory"] },
  { name: "a timer storm", code: "for (let i = 0; i < 100000; i++) setInterval(() => {}, 0)\nawait new Promise(() => {})", kinds: ["timeout", "memory"] },
  { name: "a giant string", code: "let s = 'x'\nwhile (true) s += s", kinds: ["memory", "runtime"] },
];

/**
 * Escape attempts for a Python sandbox. Each evaluates to the list of what it managed to do; a
 * sandbox passes when every list is empty. Network attempts aim at loopback only: a host server
 * the test started, unreachable from a sandbox with its own network namespace.
 */
/** Python reaching a server on the host's loopback (its port in `inputs.port`). */
const LOOPBACK_ESCAPE = {
  name: "connects to a server on the host's loopback",
  code: `import socket
done = []
try:
    socket.create_connection(("127.0.0.1", int(inputs["port"])), timeout=1).close(); done.append("connected")
except OSError:
    pass
done`,
};

export const PY_ESCAPES: { name: string; code: string }[] = [
  {
    name: "reads host secrets: /etc/shadow, the host's home, the host's env",
    code: `import os, glob
done = []
for path in ["/etc/shadow", "/etc/passwd", "/root/.bashrc", os.path.expanduser("~root") + "/.profile"]:
    try:
        open(path).read(1); done.append("read " + path)
    except OSError:
        pass
for home in ["/root", "/home"]:
    try:
        if os.listdir(home): done.append("listed " + home)
    except OSError:
        pass
done += [k for k in os.environ if k in ("E2B_API_KEY", "CODEROUTER_CANARY")]
done`,
  },
  {
    name: "writes outside its working directory",
    code: `done = []
for path in ["/usr/coderouter-escape", "/etc/coderouter-escape", "/coderouter-escape", "/bin/coderouter-escape"]:
    try:
        open(path, "w").write("x"); done.append("wrote " + path)
    except OSError:
        pass
open("inside.txt", "w").write("fine")
done`,
  },
  LOOPBACK_ESCAPE,
  {
    name: "signals every process it can see, and its parent",
    code: `import os, signal
done = []
for target in [os.getppid(), 1]:
    try:
        os.kill(target, signal.SIGTERM)
    except OSError:
        pass
done`,
  },
];

/** Attacks on the host's resources from Python: each must end with a result, the host unharmed. */
export const PY_RESOURCE_ATTACKS: { name: string; code: string; kinds: string[] }[] = [
  { name: "a fork bomb", code: "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", kinds: ["timeout", "runtime"] },
  {
    name: "a 5 GB file",
    code: "with open('big.bin', 'wb') as f:\n    for _ in range(5 * 1024):\n        f.write(b'x' * 1024 * 1024)",
    kinds: ["runtime", "output_limit"],
  },
  { name: "a memory bomb", code: "hog = []\nwhile True:\n    hog.append(bytearray(50 * 1024 * 1024))", kinds: ["memory"] },
];

/**
 * Escapes from Python compiled to WebAssembly (Pyodide), whose bridge to the host's JavaScript is
 * the way out: each collects what succeeded, and the suite expects nothing.
 */
export const PY_WASM_ESCAPES: { name: string; code: string }[] = [
  {
    name: "imports the JavaScript bridge: js, pyodide_js, pyodide.ffi, pyodide.code",
    code: `done = []
for name in ["js", "pyodide_js", "pyodide", "pyodide.ffi", "pyodide.code", "pyodide.http", "_pyodide_core", "micropip"]:
    try:
        __import__(name); done.append(name)
    except ImportError:
        pass
done`,
  },
  {
    name: "re-opens the bridge by removing the import blockers, then climbs from a JavaScript object to Function",
    code: `import sys, importlib
done = []
sys.meta_path[:] = [f for f in sys.meta_path if "Blocker" not in getattr(f, "__name__", type(f).__name__)]
for name in ["js", "pyodide_js"]:
    try:
        importlib.import_module(name); done.append("imported " + name)
    except ImportError:
        pass
try:
    o = importlib.import_module("_pyodide_core").to_js({})
    climbs = [
        lambda: o.constructor.constructor("return typeof process")(),
        lambda: o.constructor.getPrototypeOf(o.constructor).constructor("return typeof process")(),
        lambda: o.constructor.constructor,
    ]
    for climb in climbs:
        try:
            value = climb()
            if value is not None: done.append("reached " + str(value))
        except Exception:
            pass
except ImportError:
    pass
done`,
  },
  {
    name: "finds a JavaScript object through the garbage collector and climbs to Function",
    code: `import gc
done = []
for o in gc.get_objects():
    if type(o).__name__.startswith("JsProxy") or type(o).__name__ in ("JsCallable", "JsDoubleProxy"):
        try:
            f = o.constructor.constructor
            done.append(str(f("return typeof process")()))
        except Exception:
            pass
done`,
  },
  {
    name: "reads the host's files and environment",
    code: `import os
done = []
for path in [inputs["hostFile"], "/etc/passwd", "/root/.bashrc", "/proc/self/environ"]:
    try:
        if open(path).read(1) is not None and path == inputs["hostFile"]: done.append("read " + path)
        elif path == "/proc/self/environ": done.append("read environ")
    except OSError:
        pass
done += [k for k in os.environ if k in ("E2B_API_KEY", "CODEROUTER_CANARY")]
done`,
  },
  {
    // The issue-12 review's remote code execution: ctypes into Emscripten's eval, where require exists.
    name: "runs host commands through ctypes' emscripten_run_script_string",
    code: `done = []
try:
    import ctypes
    run = ctypes.CDLL(None).emscripten_run_script_string
    run.restype = ctypes.c_char_p
    done.append(run(b"require('child_process').execSync('id').toString()").decode())
except ImportError:
    pass
done`,
  },
  {
    name: "loads _pyodide_core and _ctypes past the meta path with _imp.create_builtin",
    code: `import _imp, importlib.machinery as M
done = []
for name in ("_pyodide_core", "_ctypes"):
    try:
        _imp.create_builtin(M.ModuleSpec(name, M.BuiltinImporter, origin="built-in"))
        done.append(name)
    except ImportError:
        pass
done`,
  },
  {
    name: "runs a host shell with os.system",
    code: `import os
[rc for rc in [os.system("exit 0")] if rc == 0]`,
  },
  LOOPBACK_ESCAPE,
];
