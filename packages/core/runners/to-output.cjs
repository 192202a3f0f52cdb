// The output conversion rules of DESIGN.md for JavaScript values. Plain CommonJS with no imports,
// because it runs in three places: the host, the node child process (CommonJS starts ~5 ms faster
// than an ES module there), and as source text inside a V8 isolate. The Python twin lives in
// coderouter_runner.py.
"use strict";

/**
 * Converts a value into JSON data: JSON types as they are; Sets and typed arrays to arrays; Maps to
 * objects; Dates to ISO strings; NaN, Infinity, functions, symbols and undefined to null; anything
 * else to its string form. A circular structure throws a CircularOutputError naming the path.
 */
function toOutput(value) {
  const ancestors = [];
  const walk = (v, path) => {
    switch (typeof v) {
      case "string":
      case "boolean":
        return v;
      case "number":
        return Number.isFinite(v) ? v : null;
      case "bigint":
        return String(v);
      case "undefined":
      case "function":
      case "symbol":
        return null;
    }
    if (v === null) return null;
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
    if (v instanceof Number || v instanceof String || v instanceof Boolean) return walk(v.valueOf(), path);
    if (v instanceof Error || v instanceof RegExp) return String(v);
    if (ancestors.includes(v)) {
      const error = new Error(`the output is circular: ${path} refers back to one of its parents`);
      error.name = "CircularOutputError";
      throw error;
    }
    ancestors.push(v);
    try {
      if (Array.isArray(v)) return v.map((item, i) => walk(item, `${path}[${i}]`));
      if (v instanceof Set) return Array.from(v, (item, i) => walk(item, `${path}[${i}]`));
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v, (n) => walk(n, path));
      if (v instanceof Map) {
        const out = {};
        for (const [key, item] of v) out[String(key)] = walk(item, `${path}.${String(key)}`);
        return out;
      }
      if (typeof v.toJSON === "function") return walk(v.toJSON(), path);
      const proto = Object.getPrototypeOf(v);
      if (proto !== null && proto !== Object.prototype && !hasOwnEnumerable(v)) return String(v);
      const out = {};
      for (const key of Object.keys(v)) out[key] = walk(v[key], `${path}.${key}`);
      return out;
    } finally {
      ancestors.pop();
    }
  };
  return walk(value, "$");
}

function hasOwnEnumerable(v) {
  for (const key in v) if (Object.prototype.hasOwnProperty.call(v, key)) return true;
  return false;
}

/** Words an input key cannot be a global under: they stay reachable through `inputs` only. */
const RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for " +
    "function if import in instanceof new null return super switch this throw true try typeof var void while with " +
    "yield let static implements interface package private protected public await arguments eval undefined NaN " +
    "Infinity globalThis"
  ).split(" "),
);
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** DESIGN.md's input rule: the whole object is `inputs`, and each identifier key is a global too. */
function publishInputs(target, inputs) {
  target.inputs = inputs;
  for (const key of Object.keys(inputs)) if (IDENTIFIER.test(key) && !RESERVED.has(key)) target[key] = inputs[key];
}

module.exports = { toOutput, publishInputs };
