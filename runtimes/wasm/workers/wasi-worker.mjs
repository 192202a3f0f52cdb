// Runs one WebAssembly module under WASI preview 1 (node:wasi) on a worker thread of its own: its
// arguments, its environment and its one preopened directory are what the request gives, its
// stdin is empty, its stdout and stderr go to files the parent reads.
import { closeSync, openSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";

// node:wasi is experimental in Node 20 and says so on every use: the notice is not the user's output.
process.emitWarning = () => {};
const { WASI } = await import("node:wasi");

const { module, args, env, workdir, stdoutPath, stderrPath } = workerData;

async function run(fds) {
  const wasi = new WASI({ version: "preview1", args: ["main.wasm", ...args], env, preopens: { "/work": workdir }, ...fds, returnOnExit: true });
  let instance;
  try {
    instance = await WebAssembly.instantiate(await WebAssembly.compile(module), wasi.getImportObject());
  } catch (error) {
    return { error: { kind: "syntax", name: error.name, message: error.message } };
  }
  try {
    return { exitCode: wasi.start(instance) };
  } catch (error) {
    return { error: { kind: "runtime", name: error.name, message: error.message, traceback: String(error.stack ?? "") } };
  }
}

// File descriptors belong to the whole process: they are closed whatever the module did.
const fds = { stdin: openSync("/dev/null", "r"), stdout: openSync(stdoutPath, "w"), stderr: openSync(stderrPath, "w") };
try {
  parentPort.postMessage(await run(fds));
} finally {
  for (const fd of Object.values(fds)) closeSync(fd);
}
