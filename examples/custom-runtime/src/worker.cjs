// The worker thread's program: publishes the inputs as globals, runs the prepared snippet, posts
// {output} or {error} to the host and ends the thread, so timers the code left behind do not run.
"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const vm = require("node:vm");

const { toOutput, publishInputs } = require(workerData.toOutput);
const { filename } = workerData;

function describe(error, kind) {
  if (!(error instanceof Error)) return { kind, name: "Error", message: `Uncaught ${String(error)}`, traceback: "" };
  const stack = String(error.stack ?? "")
    .split("\n")
    .filter((line, i) => i === 0 || !/^\s+at /.test(line) || line.includes(`${filename}:`))
    .join("\n");
  return { kind, name: error.name, message: error.message, traceback: stack };
}

let reported = false;
function report(result) {
  if (reported) return;
  reported = true;
  parentPort.postMessage(result);
  process.exit(0);
}

process.on("uncaughtException", (error) => report({ error: describe(error, "runtime") }));
process.on("unhandledRejection", (error) => report({ error: describe(error, "runtime") }));

publishInputs(globalThis, workerData.inputs);
let pending;
try {
  pending = vm.runInThisContext(`${workerData.source}()`, { filename, lineOffset: workerData.lineOffset });
} catch (error) {
  report({ error: describe(error, error instanceof SyntaxError ? "syntax" : "runtime") });
}
pending?.then(
  (value) => {
    try {
      report({ output: toOutput(value) });
    } catch (error) {
      report({ error: { ...describe(error, "runtime"), traceback: "" } });
    }
  },
  (error) => report({ error: describe(error, "runtime") }),
);
