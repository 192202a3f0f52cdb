// A stand-in for the JavaScript/TypeScript kernel behind E2B's code interpreter (a Deno Jupyter
// kernel), for the local E2B server. One process per code context: cells arrive as JSON lines on
// stdin, messages leave as JSON lines on fd 3 (stdout, stderr, result, error, end). As in Deno's
// kernel, top-level await works, the last expression is displayed, and an object that implements
// Symbol.for("Jupyter.display") is displayed as the MIME bundle it returns.
"use strict";
const { writeSync } = require("node:fs");
const { inspect } = require("node:util");
const readline = require("node:readline");
const vm = require("node:vm");
const acorn = require("acorn");

const CHANNEL = 3;
const DISPLAY = Symbol.for("Jupyter.display");

function send(message) {
  const data = Buffer.from(JSON.stringify(message) + "\n");
  for (let offset = 0; offset < data.length; ) offset += writeSync(CHANNEL, data, offset);
}

for (const name of ["stdout", "stderr"]) {
  process[name].write = (chunk, encoding, callback) => {
    send({ type: name, text: typeof chunk === "string" ? chunk : Buffer.from(chunk).toString() });
    const done = typeof encoding === "function" ? encoding : callback;
    if (done) process.nextTick(done);
    return true;
  };
}

/** The cell as an async function body whose last expression statement is returned. */
function asAsyncBody(code) {
  const program = acorn.parse(code, { ecmaVersion: "latest", allowAwaitOutsideFunction: true, allowReturnOutsideFunction: true });
  const last = program.body.at(-1);
  if (last?.type !== "ExpressionStatement") return code;
  return `${code.slice(0, last.start)}return (${code.slice(last.expression.start, last.expression.end)});${code.slice(last.end)}`;
}

async function bundle(value) {
  if (value && typeof value[DISPLAY] === "function") return await value[DISPLAY]();
  return { "text/plain": inspect(value) };
}

let count = 0;
async function runCell({ code, env }) {
  Object.assign(process.env, env ?? {});
  send({ type: "number_of_executions", execution_count: ++count });
  try {
    const run = vm.runInThisContext(`(async () => {\n${asAsyncBody(code)}\n})`, {
      filename: "<cell>",
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    const value = await run();
    if (value !== undefined) send({ type: "result", is_main_result: true, ...(await bundle(value)) });
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    send({ type: "error", name: e.name, value: e.message, traceback: String(e.stack ?? "") });
  }
  send({ type: "end" });
}

// Cells run one after the other, as a kernel's execute requests do.
let queue = Promise.resolve();
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const cell = JSON.parse(line);
  queue = queue.then(() => runCell(cell));
});
process.on("unhandledRejection", (error) => send({ type: "stderr", text: `Unhandled rejection: ${String(error)}\n` }));
