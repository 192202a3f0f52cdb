// A stand-in for E2B's JavaScript kernel, ijavascript with E2B's nel fork, for the local E2B
// server. One process per code context: cells arrive as JSON lines on stdin ({id, code}),
// messages leave as JSON lines on fd 3, tagged with the cell's id. As in that kernel:
// - a cell is run as a script with vm.runInThisContext, after a transform (E2B's
//   ijavascript-babel) that moves everything from the first top-level await on into an async
//   arrow function returning the last expression; the script's completion value is awaited;
// - that value is displayed through nel's mimer: `_toMime()` gives the MIME bundle, text/plain is
//   util.inspect unless given, `_toHtml`/`_toSvg`/`_toPng`/`_toJpeg` add theirs; undefined is
//   not displayed (ijsinstall's --hide-undefined);
// - `$$.display()` sends display data, `require` is the global one, errors carry nel's fields.
"use strict";
const { writeSync } = require("node:fs");
const util = require("node:util");
const readline = require("node:readline");
const vm = require("node:vm");
const acorn = require("acorn");

const CHANNEL = 3;
let cell = null;

function send(message) {
  const data = Buffer.from(JSON.stringify({ ...message, cell }) + "\n");
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

function hasTopLevelAwait(node) {
  let found = false;
  (function walk(n) {
    if (found || !n || typeof n.type !== "string") return;
    if (n.type === "AwaitExpression" || (n.type === "ForOfStatement" && n.await)) return void (found = true);
    if (/Function/.test(n.type)) return;
    for (const value of Object.values(n)) {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === "object") walk(value);
    }
  })(node);
  return found;
}

/** ijavascript-babel's top-level await transform, on the source text. */
function transform(code) {
  const program = acorn.parse(code, { ecmaVersion: "latest", allowAwaitOutsideFunction: true, sourceType: "script" });
  const first = program.body.findIndex(hasTopLevelAwait);
  if (first < 0) return code;
  const hoisted = [];
  const body = program.body.slice(first).map((statement) => {
    const text = code.slice(statement.start, statement.end);
    if (statement.type === "VariableDeclaration") {
      return statement.declarations
        .map((d) => {
          collectNames(d.id, hoisted);
          return `(${code.slice(d.id.start, d.id.end)} = ${d.init ? code.slice(d.init.start, d.init.end) : "undefined"});`;
        })
        .join("\n");
    }
    if (statement.type === "ClassDeclaration") {
      hoisted.push(statement.id.name);
      return `${statement.id.name} = ${text};`;
    }
    return text;
  });
  const last = program.body.at(-1);
  if (last.type === "ExpressionStatement" && last.expression.type !== "AssignmentExpression") {
    body[body.length - 1] = `return (${code.slice(last.expression.start, last.expression.end)});`;
  }
  const prefix = code.slice(0, program.body[first].start);
  // Babel prints each statement terminated; source text may rely on ASI across the joins.
  return `${prefix}${hoisted.length ? `let ${hoisted.join(", ")};\n` : ""}(async () => {\n${body.join(";\n")}\n})();`;
}

function collectNames(pattern, into) {
  if (!pattern) return;
  if (pattern.type === "Identifier") into.push(pattern.name);
  else if (pattern.type === "ObjectPattern") pattern.properties.forEach((p) => collectNames(p.value ?? p.argument, into));
  else if (pattern.type === "ArrayPattern") pattern.elements.forEach((e) => collectNames(e, into));
  else if (pattern.type === "RestElement") collectNames(pattern.argument, into);
  else if (pattern.type === "AssignmentPattern") collectNames(pattern.left, into);
}

function toMime(result) {
  if (result === null) return { "text/plain": "null" };
  let mime;
  if (result._toMime) {
    try {
      mime = result._toMime();
    } catch {}
  }
  if (typeof mime !== "object" || mime === null) mime = {};
  if (!("text/plain" in mime)) mime["text/plain"] = util.inspect(result);
  for (const [method, type] of [
    ["_toHtml", "text/html"],
    ["_toSvg", "image/svg+xml"],
    ["_toPng", "image/png"],
    ["_toJpeg", "image/jpeg"],
  ]) {
    if (result[method] && !(type in mime)) {
      try {
        mime[type] = result[method]();
      } catch {}
    }
  }
  return mime;
}

const display = (bundle) => send({ type: "result", is_main_result: false, ...bundle });
globalThis.$$ = {
  display: () => ({
    mime: display,
    text: (text) => display({ "text/plain": text }),
    html: (html) => display({ "text/html": html }),
    svg: (svg) => display({ "image/svg+xml": svg }),
    png: (png) => display({ "image/png": png }),
    jpeg: (jpeg) => display({ "image/jpeg": jpeg }),
    json: (json) => display({ "application/json": json }),
  }),
};
globalThis.require = require;

let count = 0;
async function runCell({ id, code }) {
  cell = id;
  send({ type: "number_of_executions", execution_count: ++count });
  try {
    const value = await vm.runInThisContext(transform(code), {
      filename: "evalmachine.<anonymous>",
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    if (value !== undefined) send({ type: "result", is_main_result: true, ...toMime(value) });
  } catch (error) {
    send({
      type: "error",
      name: error && error.name ? error.name : typeof error,
      value: error && error.message ? error.message : util.inspect(error),
      traceback: error && error.stack ? String(error.stack) : "",
    });
  }
  send({ type: "end" });
}

// Cells run one after the other, as a kernel's execute requests do.
let queue = Promise.resolve();
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const request = JSON.parse(line);
  queue = queue.then(() => runCell(request));
});
process.on("unhandledRejection", (error) => send({ type: "stderr", text: `Unhandled rejection: ${String(error)}\n` }));
process.on("uncaughtException", (error) => send({ type: "stderr", text: `${error && error.stack}\n` }));
