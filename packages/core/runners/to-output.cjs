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
  // Linear in the size of the value: no path string per value (a 1,000-object result would format
  // thousands nobody reads). A circular reference throws a marker that each container it passes on
  // its way up adds its step to, so the path is only spelled out for the error.
  const ancestors = new Set();
  const walk = (v) => {
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
    if (v instanceof Number || v instanceof String || v instanceof Boolean) return walk(v.valueOf());
    if (v instanceof Error || v instanceof RegExp) return String(v);
    if (ancestors.has(v)) throw new Circular();
    ancestors.add(v);
    let step = NO_STEP;
    try {
      if (Array.isArray(v) || v instanceof Set) {
        const out = [];
        step = 0;
        for (const item of v) {
          out.push(walk(item));
          step++;
        }
        return out;
      }
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v, walk);
      const out = {};
      if (v instanceof Map) {
        for (const [key, item] of v) {
          step = key;
          out[String(key)] = walk(item);
        }
        return out;
      }
      if (typeof v.toJSON === "function") return walk(v.toJSON());
      const proto = Object.getPrototypeOf(v);
      if (proto !== null && proto !== Object.prototype && !hasOwnEnumerable(v)) return String(v);
      for (const key of Object.keys(v)) {
        step = key;
        out[key] = walk(v[key]);
      }
      return out;
    } catch (error) {
      if (error instanceof Circular && step !== NO_STEP) error.steps.push(Array.isArray(v) || v instanceof Set ? `[${step}]` : `.${String(step)}`);
      throw error;
    } finally {
      ancestors.delete(v);
    }
  };
  try {
    return walk(value);
  } catch (error) {
    if (!(error instanceof Circular)) throw error;
    const circular = new Error(`the output is circular: $${error.steps.reverse().join("")} refers back to one of its parents`);
    circular.name = "CircularOutputError";
    throw circular;
  }
}

const NO_STEP = Symbol("no step");

/** Thrown where a value refers back to one of its parents, collecting the steps of its path on the way up. */
class Circular {
  steps = [];
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
