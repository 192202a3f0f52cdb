// The console of JavaScript engines that are not Node (a V8 isolate, QuickJS), as Node's behaves:
// the same methods, each on Node's stream (log/info/debug/dir/table/count/time/group on stdout;
// error/warn/trace/assert on stderr), group indentation, and undefined as every method's value.
// Plain CommonJS with no imports: it runs as guest source text, handed inspect.cjs's functions.
"use strict";

/**
 * write(stream, text): 0 stdout, 1 stderr. `stack()` returns the caller's stack frames, for trace.
 */
function makeConsole(write, { format, inspect }, stack = () => "") {
  let indent = "";
  const print = (stream, text) => {
    const lines = indent ? indent + text.replace(/\n/g, `\n${indent}`) : text;
    write(stream, `${lines}\n`);
  };
  const out = (...args) => void print(0, format(...args));
  const err = (...args) => void print(1, format(...args));
  const counts = new Map();
  const timers = new Map();
  const elapsed = (label) => {
    const ms = Date.now() - timers.get(label);
    return ms >= 1000 ? `${(ms / 1000).toFixed(3)}s` : `${ms.toFixed(3)}ms`;
  };
  const console = {
    log: out,
    info: out,
    debug: out,
    error: err,
    warn: err,
    dir: (value, options) => void print(0, inspect(value, options)),
    dirxml: out,
    table: (data, properties) => void (data === null || typeof data !== "object" ? out(data) : print(0, table(data, properties, inspect))),
    trace: (...args) => {
      const message = format(...args);
      void print(1, `Trace${message ? `: ${message}` : ""}${stack() ? `\n${stack()}` : ""}`);
    },
    assert: (condition, ...args) => {
      if (condition) return;
      if (args.length) args[0] = `Assertion failed: ${String(args[0])}`;
      else args.push("Assertion failed");
      err(...args);
    },
    count: (label = "default") => {
      counts.set(`${label}`, (counts.get(`${label}`) ?? 0) + 1);
      out(`${label}: ${counts.get(`${label}`)}`);
    },
    countReset: (label = "default") => void counts.delete(`${label}`),
    group: (...label) => {
      if (label.length) out(...label);
      indent += "  ";
    },
    groupEnd: () => void (indent = indent.slice(2)),
    time: (label = "default") => void timers.set(`${label}`, Date.now()),
    timeLog: (label = "default", ...data) => {
      if (timers.has(`${label}`)) out(`${label}: ${elapsed(`${label}`)}`, ...data);
    },
    timeEnd: (label = "default") => {
      if (!timers.has(`${label}`)) return;
      out(`${label}: ${elapsed(`${label}`)}`);
      timers.delete(`${label}`);
    },
  };
  console.groupCollapsed = console.group;
  return console;
}

/** console.table's text, Node's layout: an `(index)` column, one per key, `Values` for primitives. */
function table(data, properties, inspect) {
  const cell = (v) => inspect(v, { depth: v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 2 ? -1 : 0 });
  const index = Object.keys(data);
  const columns = new Map();
  const values = [];
  let primitives = false;
  index.forEach((key, row) => {
    const item = data[key];
    const primitive = item === null || (typeof item !== "function" && typeof item !== "object");
    if (properties === undefined && primitive) {
      primitives = true;
      values[row] = cell(item);
      return;
    }
    for (const column of properties ?? Object.keys(item)) {
      if (!columns.has(column)) columns.set(column, []);
      columns.get(column)[row] = primitive || !Object.prototype.hasOwnProperty.call(item, column) ? "" : cell(item[column]);
    }
  });
  const head = ["(index)", ...columns.keys(), ...(primitives ? ["Values"] : [])];
  const body = [index, ...columns.values(), ...(primitives ? [values] : [])];
  const widths = head.map((h, i) => Math.max(h.length, ...index.map((_, row) => String(body[i][row] ?? "").length)) + 2);
  const line = (left, middle, right) => left + widths.map((w) => "─".repeat(w)).join(middle) + right;
  const row = (cells) => `│${cells.map((c, i) => ` ${c}`.padEnd(widths[i])).join("│")}│`;
  return [
    line("┌", "┬", "┐"),
    row(head),
    line("├", "┼", "┤"),
    ...index.map((_, r) => row(body.map((column) => String(column[r] ?? "")))),
    line("└", "┴", "┘"),
  ].join("\n");
}

module.exports = { makeConsole };
