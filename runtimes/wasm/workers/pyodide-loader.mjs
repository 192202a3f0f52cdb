// Loads Pyodide's Emscripten module (pyodide.asm.js) so that nothing inside it can run a string as
// JavaScript or reach Node's modules. Python reaches that module's JavaScript through ctypes (dlsym
// of any JS library function, e.g. emscripten_run_script_string, which evals its argument in the
// module's scope) and through side modules whose EM_JS bodies are evaluated when loaded. Both end
// in the module's own `eval`, `require` and import(): here every `eval(` of the file calls a
// function that refuses, `require` hands out only what loading needs (path, and fs reads of
// Pyodide's own files), and every `import(` gets harmless built-ins or pyodide-host-shim.mjs.
// Pyodide's loader (pyodide.mjs) then finds the module factory defined and does not load the file.
import { readFileSync } from "node:fs";
import { resolve, sep } from "node:path";
import * as path from "node:path";
import { compileFunction } from "node:vm";
import { insidePyodide, refuse } from "./pyodide-host-shim.mjs";

/** The eval call sites of pyodide.asm.js 0.27 (the run_script functions, EM_ASM/EM_JS of side modules, script loading). */
const EVAL_CALL = /(?<![\w$.])eval\(/g;
const EXPECTED_EVAL_CALLS = 6;
/** Its dynamic imports: Node's modules for package loading, and scripts (loadScript). */
const IMPORT_CALL = /(?<![\w$.])import\(/g;
const EXPECTED_IMPORT_CALLS = 11;

/** Synchronous reads of Pyodide's own files for the module's `require("fs")`; every other fs call refuses. */
function confinedFs() {
  const fs = Object.create(null);
  fs.readFileSync = (file, options) => readFileSync(insidePyodide(file), options);
  fs.readFile = (file, options, callback) => {
    const done = typeof options === "function" ? options : callback;
    let data;
    try {
      data = readFileSync(insidePyodide(file), typeof options === "function" ? undefined : options);
    } catch (error) {
      return done(error);
    }
    done(null, data);
  };
  return new Proxy(Object.freeze(fs), {
    get: (target, name) => (name in target ? target[name] : () => refuse(`the host filesystem (fs.${String(name)})`)),
  });
}

/** What the module's import() may load: harmless built-ins as they are, fs and vm through the shim. */
const DYNAMIC_IMPORTS = {
  "node:url": () => import("node:url"),
  "node:path": () => import("node:path"),
  "node:fs": () => import("./pyodide-host-shim.mjs"),
  "node:fs/promises": () => import("./pyodide-host-shim.mjs"),
  "node:vm": () => import("./pyodide-host-shim.mjs"),
};

/**
 * Defines globalThis._createPyodideModule from `indexURL`'s pyodide.asm.js with eval, require and
 * import() confined. Throws when the file is not the one this was written for (a Pyodide upgrade
 * must be checked again).
 */
export function defineConfinedPyodideModule(indexURL) {
  const root = resolve(indexURL);
  const file = `${root}${sep}pyodide.asm.js`;
  const original = readFileSync(file, "utf8");
  const calls = original.match(EVAL_CALL)?.length ?? 0;
  if (calls !== EXPECTED_EVAL_CALLS) {
    throw new Error(`${file} has ${calls} eval calls where ${EXPECTED_EVAL_CALLS} were expected: check the confinement against this Pyodide version`);
  }
  const imports = original.match(IMPORT_CALL)?.length ?? 0;
  if (imports !== EXPECTED_IMPORT_CALLS) {
    throw new Error(`${file} has ${imports} import() calls where ${EXPECTED_IMPORT_CALLS} were expected: check the confinement against this Pyodide version`);
  }
  const source = original.replace(EVAL_CALL, "refusedEval(").replace(IMPORT_CALL, "confinedImport(");
  const fs = confinedFs();
  // Standard streams are set by the worker before any user code: no host descriptor is a terminal.
  const tty = Object.freeze({ isatty: () => false });
  // os.system() ends in child_process.spawnSync: a shell that is not there (127).
  const childProcess = Object.freeze({ spawnSync: () => ({ status: 127, signal: null }) });
  const modules = { path, fs, "node:fs": fs, "node:tty": tty, child_process: childProcess };
  const require = (name) => (Object.hasOwn(modules, name) ? modules[name] : refuse(`the Node module ${name}`));
  const confinedImport = async (specifier) => (Object.hasOwn(DYNAMIC_IMPORTS, specifier) ? DYNAMIC_IMPORTS[specifier]() : refuse(`the module ${specifier}`));
  const factory = compileFunction(source, ["require", "__filename", "__dirname", "refusedEval", "confinedImport"], { filename: file });
  factory(require, file, root, () => refuse("eval"), confinedImport);
}
