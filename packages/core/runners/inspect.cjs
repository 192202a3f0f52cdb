// console.log formatting for JavaScript engines that are not Node (a V8 isolate, QuickJS): the
// same text Node's util.format / util.inspect print for the common cases, so a snippet's logs read
// the same whichever runtime ran it. Plain CommonJS with no imports: it runs as guest source text.
"use strict";

const BREAK_LENGTH = 72;
const MAX_ITEMS = 100;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function quote(s) {
  const q = !s.includes("'") ? "'" : !s.includes('"') ? '"' : !s.includes("`") ? "`" : "'";
  const escaped = s.replace(/[\\\n\r\t\b\f\v\0]/g, (c) => ({ "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\v": "\\v", "\0": "\\x00" })[c]);
  return q + (q === "'" ? escaped.replace(/'/g, "\\'") : escaped) + q;
}

function constructorName(v) {
  try {
    const proto = Object.getPrototypeOf(v);
    if (proto === null) return null;
    const ctor = proto.constructor;
    return typeof ctor === "function" && typeof ctor.name === "string" ? ctor.name : "";
  } catch {
    return "";
  }
}

function wrap(prefix, items, open, close, indent) {
  if (items.length === 0) return `${prefix}${open}${close}`;
  const single = `${prefix}${open} ${items.join(", ")} ${close}`;
  if (single.length + indent <= BREAK_LENGTH && !items.some((i) => i.includes("\n"))) return single;
  const pad = " ".repeat(indent + 2);
  return `${prefix}${open}\n${pad}${items.join(`,\n${pad}`)}\n${" ".repeat(indent)}${close}`;
}

function formatValue(v, depth, seen, indent) {
  switch (typeof v) {
    case "string":
      return quote(v);
    case "number":
      return Object.is(v, -0) ? "-0" : String(v);
    case "bigint":
      return `${v}n`;
    case "symbol":
      return v.toString();
    case "undefined":
      return "undefined";
    case "boolean":
      return String(v);
    case "function": {
      const source = Function.prototype.toString.call(v);
      if (source.startsWith("class")) return `[class ${v.name || "(anonymous)"}]`;
      const kind = constructorName(v) || "Function";
      return `[${kind}: ${v.name || "(anonymous)"}]`;
    }
  }
  if (v === null) return "null";
  if (seen.includes(v)) return "[Circular *1]";
  if (v instanceof Error) return v.stack || String(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString();
  if (v instanceof RegExp) return String(v);
  if (v instanceof Promise) return "Promise { <unknown> }";
  const name = constructorName(v);
  if (depth < 0) return Array.isArray(v) ? "[Array]" : `[${name || "Object"}]`;
  seen.push(v);
  try {
    const inner = (x) => formatValue(x, depth - 1, seen, indent + 2);
    if (Array.isArray(v) || ArrayBuffer.isView(v)) {
      const items = [];
      const length = v.length ?? 0;
      for (let i = 0; i < Math.min(length, MAX_ITEMS); i++) items.push(inner(v[i]));
      if (length > MAX_ITEMS) items.push(`... ${length - MAX_ITEMS} more item${length - MAX_ITEMS > 1 ? "s" : ""}`);
      const prefix = Array.isArray(v) ? (name === "Array" ? "" : `${name}(${length}) `) : `${name}(${length}) `;
      return wrap(prefix, items, "[", "]", indent);
    }
    if (v instanceof Map) {
      const items = [...v].slice(0, MAX_ITEMS).map(([k, x]) => `${inner(k)} => ${inner(x)}`);
      return wrap(`Map(${v.size}) `, items, "{", "}", indent);
    }
    if (v instanceof Set) {
      const items = [...v].slice(0, MAX_ITEMS).map(inner);
      return wrap(`Set(${v.size}) `, items, "{", "}", indent);
    }
    const items = Object.keys(v).map((key) => `${IDENTIFIER.test(key) ? key : quote(key)}: ${inner(v[key])}`);
    const prefix = name === null ? "[Object: null prototype] " : name && name !== "Object" ? `${name} ` : "";
    return wrap(prefix, items, "{", "}", indent);
  } finally {
    seen.pop();
  }
}

function inspect(value) {
  return formatValue(value, 2, [], 0);
}

/** util.format: printf-style placeholders in a first string argument, the rest joined by spaces. */
function format(...args) {
  let i = 0;
  let out = "";
  if (typeof args[0] === "string") {
    i = 1;
    out = args[0].replace(/%([sdifjoOc%])/g, (match, type) => {
      if (type === "%") return "%";
      if (i >= args.length) return match;
      const arg = args[i++];
      switch (type) {
        case "s":
          return typeof arg === "string" ? arg : typeof arg === "bigint" ? `${arg}n` : typeof arg === "object" && arg !== null ? formatValue(arg, 1, [], 0) : String(arg);
        case "d":
        case "i":
          return typeof arg === "bigint" ? `${arg}n` : String(type === "i" ? parseInt(arg, 10) : Number(arg));
        case "f":
          return String(parseFloat(arg));
        case "j":
          try {
            return JSON.stringify(arg);
          } catch {
            return "[Circular]";
          }
        case "c":
          return "";
        default:
          return inspect(arg);
      }
    });
  }
  for (; i < args.length; i++) {
    const arg = args[i];
    out += (out || i > 0 ? " " : "") + (typeof arg === "string" ? arg : inspect(arg));
  }
  return out;
}

module.exports = { inspect, format };
