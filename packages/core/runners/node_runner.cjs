// Runs one JavaScript snippet for coderouter in a node child process and reports its result.
//
// Protocol: the payload {"source", "lineOffset", "filename", "inputs"} arrives as JSON on stdin (`source` is the
// snippet prepared in the host by prepareJavaScript and asyncFunctionSource); the result {"output"} or
// {"error": {kind, name, message, traceback}} is written to file descriptor 3, so stdout and stderr
// stay the user's own.
"use strict";
const { readFileSync, writeSync } = require("node:fs");
const vm = require("node:vm");
// Loaded only for outputs that need converting: a plain value skips a module load on every run.
const toOutput = (value) =>
  value === null || typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))
    ? value
    : require("./to-output.cjs").toOutput(value);

const RESULT_FD = 3;

let reported = false;

// Which of stdout and stderr the code touched: only those need flushing before exit, and creating
// an untouched stream just to flush it costs ~3 ms, a tenth of the whole run.
const touched = new Set();
for (const name of ["stdout", "stderr"]) {
  const { get } = Object.getOwnPropertyDescriptor(process, name);
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: true,
    get() {
      touched.add(name);
      return get.call(process);
    },
  });
}

function report(result) {
  if (reported) return;
  reported = true;
  let data;
  try {
    data = JSON.stringify(result);
  } catch (error) {
    data = JSON.stringify({ error: describe(error, "runtime") });
  }
  const bytes = Buffer.from(data);
  for (let offset = 0; offset < bytes.length; ) {
    try {
      offset += writeSync(RESULT_FD, bytes, offset);
    } catch (error) {
      if (error.code !== "EAGAIN") throw error;
    }
  }
  // Exit as soon as what the code printed is flushed (stdout to a pipe is asynchronous here), as the
  // Python runner does: timers the code left behind must not hold the execution open.
  let pending = touched.size + 1;
  const exit = () => --pending === 0 && process.exit(0);
  for (const name of touched) process[name].write("", exit);
  exit();
}

function describe(error, kind) {
  if (!(error instanceof Error)) {
    return { kind, name: "Error", message: `Uncaught ${safeString(error)}`, traceback: "" };
  }
  const filename = payload?.filename ?? "main.js";
  const stack = String(error.stack ?? "")
    .split("\n")
    .filter((line, i) => i === 0 || !/^\s+at /.test(line) || line.includes(`${filename}:`))
    .join("\n");
  return { kind, name: error.name, message: error.message, traceback: stack };
}

function safeString(value) {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

let payload;
try {
  payload = JSON.parse(readFileSync(0, "utf8"));
} catch (error) {
  report({ error: describe(error, "runtime") });
}

// The event loop ran dry with the code's promise still pending: nothing is left that could settle
// it, so say so now instead of waiting for the timeout.
process.on("beforeExit", () =>
  report({
    error: {
      kind: "runtime",
      name: "UnsettledPromiseError",
      message: "the code awaited a promise that nothing is left to settle",
      traceback: "",
    },
  }),
);
process.on("uncaughtException", (error) => report({ error: describe(error, "runtime") }));
process.on("unhandledRejection", (error) => report({ error: describe(error, "runtime") }));

require("./to-output.cjs").publishInputs(globalThis, payload.inputs);
// Trusted local code gets what a node script has: require() relative to its working directory,
// made on first use (loading node:module costs more than most snippets take to run).
let userRequire;
Object.defineProperty(globalThis, "require", {
  configurable: true,
  get: () => (userRequire ??= require("node:module").createRequire(`${process.cwd()}/${payload.filename}`)),
  set: (value) => (userRequire = value),
});

let pending;
try {
  // Called inside the script, so V8's own timeout bounds its synchronous part: the host kills the
  // process at the timeout, but a child whose host was killed must still not spin forever.
  pending = vm.runInThisContext(`${payload.source}()`, {
    filename: payload.filename,
    lineOffset: payload.lineOffset,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    ...(payload.timeoutMs ? { timeout: payload.timeoutMs + 2000 } : {}),
  });
} catch (error) {
  const kind = error instanceof SyntaxError ? "syntax" : error?.code === "ERR_SCRIPT_EXECUTION_TIMEOUT" ? "timeout" : "runtime";
  report({ error: describe(error, kind) });
}

pending.then(
  (value) => {
    try {
      report({ output: toOutput(value) });
    } catch (error) {
      report({ error: { ...describe(error, "runtime"), traceback: "" } });
    }
  },
  (error) => report({ error: describe(error, "runtime") }),
);
