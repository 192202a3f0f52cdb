// A long-lived Node for one coderouter session: globals and top-level declarations (prepared by
// the host with prepareJavaScript's `persist`) stay in this process between executions, and the
// session's files live in its working directory.
//
// It speaks the fork-server's protocol (see coderouter_forkserver.py): stdin carries
// {"run": {source, lineOffset, filename, inputs}}, {"files": {...}} or {"environment": true};
// fd 3 answers {"result"} then {"exit", "signal", "fence"} (and the fence on stdout and stderr),
// or {"reply"} / {"reply_error"}. A timeout ends the whole worker, and with it the session.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const { randomBytes } = require("node:crypto");
const { toOutput, publishInputs } = require("./to-output.cjs");

const CONTROL_FD = 3;
const ROOT = fs.realpathSync(process.cwd());

function send(message) {
  const bytes = Buffer.from(`${JSON.stringify(message)}\n`);
  for (let offset = 0; offset < bytes.length; ) {
    try {
      offset += fs.writeSync(CONTROL_FD, bytes, offset);
    } catch (error) {
      if (error.code !== "EAGAIN") throw error;
    }
  }
}

function describe(error, filename) {
  if (!(error instanceof Error)) return { kind: "runtime", name: "Error", message: `Uncaught ${String(error)}`, traceback: "" };
  const stack = String(error.stack ?? "")
    .split("\n")
    .filter((line, i) => i === 0 || !/^\s+at /.test(line) || line.includes(`${filename}:`))
    .join("\n");
  return { kind: error instanceof SyntaxError ? "syntax" : "runtime", name: error.name, message: error.message, traceback: stack };
}

/** The absolute path of `target` inside the working directory; absolute, `..` and symlinks out are refused. */
function confine(target, mustExist) {
  if (typeof target !== "string" || target === "" || target.includes("\0")) throw new Error("the path must be a non-empty string");
  if (path.isAbsolute(target)) throw new Error(`${target} is absolute: paths are relative to the session's working directory`);
  const full = path.resolve(ROOT, target);
  if (full !== ROOT && !full.startsWith(ROOT + path.sep)) throw new Error(`${target} leads outside the session's working directory`);
  const probe = fs.existsSync(full) || isLink(full) ? full : path.dirname(full);
  const real = fs.existsSync(probe) ? fs.realpathSync(probe) : probe;
  if (real !== ROOT && !real.startsWith(ROOT + path.sep)) {
    throw new Error(`${target} resolves, through a symlink, outside the session's working directory`);
  }
  if (mustExist && !fs.existsSync(full) && !isLink(full)) throw Object.assign(new Error(`${target} does not exist`), { kind: "not_found" });
  return full;
}

function isLink(full) {
  try {
    return fs.lstatSync(full).isSymbolicLink();
  } catch {
    return false;
  }
}

function files(request) {
  const target = request.path ?? ".";
  switch (request.op) {
    case "write": {
      const full = confine(target, false);
      fs.mkdirSync(path.dirname(full), { recursive: true });
      try {
        fs.writeFileSync(full, Buffer.from(request.data, "base64"));
      } catch (error) {
        // Nothing half-written stays: a file the workspace could not hold is not there at all.
        fs.rmSync(full, { force: true });
        const noRoom = ["EFBIG", "ENOSPC", "EDQUOT"].includes(error.code);
        throw new Error(`${target} was not written: ${noRoom ? "the session's workspace is full (it holds SUBPROCESS_SANDBOX_DISK_MB)" : error.message}`);
      }
      return { path: target, size: fs.statSync(full).size };
    }
    case "read": {
      const full = confine(target, true);
      if (fs.statSync(full).isDirectory()) throw new Error(`${target} is a directory`);
      return { path: target, data: fs.readFileSync(full).toString("base64") };
    }
    case "list": {
      const full = target === "." || target === "" ? ROOT : confine(target, true);
      return {
        path: target,
        entries: fs
          .readdirSync(full, { withFileTypes: true })
          .sort((a, b) => (a.name < b.name ? -1 : 1))
          .map((entry) => {
            const abs = path.join(full, entry.name);
            const directory = entry.isDirectory();
            return { name: entry.name, path: path.relative(ROOT, abs), type: directory ? "directory" : "file", size: directory ? 0 : fs.lstatSync(abs).size };
          }),
      };
    }
    case "remove": {
      const full = confine(target, true);
      if (full === ROOT) throw new Error("the working directory itself cannot be removed");
      fs.rmSync(full, { recursive: true, force: true });
      return { path: target, removed: true };
    }
  }
  throw new Error(`unknown files operation ${JSON.stringify(request.op)}`);
}

async function run(payload) {
  publishInputs(globalThis, payload.inputs);
  let result;
  try {
    const main = vm.runInThisContext(payload.source, {
      filename: payload.filename,
      lineOffset: payload.lineOffset,
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    result = { output: toOutput(await main()) };
  } catch (error) {
    result = {
      error: error && error.name === "CircularOutputError" ? { ...describe(error, payload.filename), traceback: "" } : describe(error, payload.filename),
    };
  }
  // Nothing an execution started outlives it: as pid 1 of the worker's PID namespace, every other
  // process in it goes (node cannot reap the orphans it adopts; their zombies go with the session).
  if (process.pid === 1) {
    try {
      process.kill(-1, "SIGKILL");
    } catch {}
  }
  send({ result });
  const fence = randomBytes(16).toString("hex");
  send({ exit: 0, signal: 0, fence });
  process.stdout.write(fence);
  process.stderr.write(fence);
}

globalThis.require = require("node:module").createRequire(path.join(ROOT, "main.js"));
let pending = "";
let queue = Promise.resolve();
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  pending += chunk;
  let newline;
  while ((newline = pending.indexOf("\n")) !== -1) {
    const request = JSON.parse(pending.slice(0, newline));
    pending = pending.slice(newline + 1);
    queue = queue.then(async () => {
      if (request.run) return run(request.run);
      try {
        send({
          reply: request.files
            ? files(request.files)
            : { language: "javascript", version: process.version, platform: `${process.platform}-${process.arch}`, cwd: ROOT, packages: [] },
        });
      } catch (error) {
        send({ reply_error: { kind: error.kind === "not_found" ? "not_found" : "validation", message: error.message } });
      }
    });
  }
});
process.stdin.on("end", () => process.exit(0));
// Node has no PR_SET_PDEATHSIG: a worker whose host died (its stdin pipe closes, or it is adopted
// by another parent) ends itself, whenever the event loop gets a turn.
const host = process.ppid;
setInterval(() => process.ppid !== host && process.exit(1), 1000).unref();
send({ ready: true });
