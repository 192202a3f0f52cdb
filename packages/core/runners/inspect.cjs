// console.log formatting for JavaScript engines that are not Node (a V8 isolate, QuickJS): the
// same text Node's util.format / util.inspect print for the common cases, so a snippet's logs read
// the same whichever runtime ran it. Plain CommonJS with no imports: it runs as guest source text.
"use strict";

const BREAK_LENGTH = 80;
const MAX_ITEMS = 100;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function quote(s) {
  const q = !s.includes("'") ? "'" : !s.includes('"') ? '"' : !s.includes("`") ? "`" : "'";
  const escaped = s.replace(
    /[\\\n\r\t\b\f\v\0]/g,
    (c) => ({ "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\v": "\\v", "\0": "\\x00" })[c],
  );
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

// Node's rule for one line: the entries, their separators and the opening (plus a margin of ten)
// fit in 80 columns, and no entry spans lines.
function fitsOnOneLine(prefix, open, items, indent) {
  const length = items.reduce((sum, item) => sum + item.length, 0) + items.length;
  const start = items.length + indent + prefix.length + open.length + 10;
  return length + start <= BREAK_LENGTH && !items.some((i) => i.includes("\n"));
}

function wrap(prefix, items, open, close, indent, rows) {
  if (items.length === 0) return `${prefix}${open}${close}`;
  const lines = rows ?? items;
  if (!rows && fitsOnOneLine(prefix, open, items, indent)) return `${prefix}${open} ${items.join(", ")} ${close}`;
  const pad = " ".repeat(indent + 2);
  return `${prefix}${open}\n${pad}${lines.join(`,\n${pad}`)}\n${" ".repeat(indent)}${close}`;
}

/**
 * Long arrays of short entries are laid out in columns, as Node does: about as many columns as
 * make the block roughly square (a character being ~2.5 times taller than wide), at most 15 and
 * within 80 columns; numbers right-aligned, anything else left-aligned. Returns undefined when
 * the entries do not suit columns.
 */
function columns(items, values, indent) {
  const count = items.length;
  if (count <= 6) return undefined;
  const widest = Math.max(...items.map((i) => i.length));
  const cell = widest + 2;
  const total = items.reduce((sum, item) => sum + item.length + 2, 0);
  if (!(cell * 3 + indent < BREAK_LENGTH && (total / cell > 5 || widest <= 6))) return undefined;
  const bias = Math.sqrt(cell - total / count);
  const biased = Math.max(cell - 3 - bias, 1);
  const perRow = Math.min(Math.round(Math.sqrt(2.5 * biased * count) / biased), Math.floor((BREAK_LENGTH - indent) / cell), 12, 15);
  if (perRow <= 1) return undefined;
  const widths = [];
  for (let c = 0; c < perRow; c++) {
    let w = 0;
    for (let j = c; j < count; j += perRow) w = Math.max(w, items[j].length);
    widths.push(w + 2);
  }
  const numeric = values.every((v) => typeof v === "number" || typeof v === "bigint");
  const rows = [];
  for (let start = 0; start < count; start += perRow) {
    const end = Math.min(start + perRow, count);
    let row = "";
    for (let j = start; j < end - 1; j++) {
      const text = `${items[j]}, `;
      row += numeric ? text.padStart(widths[j - start]) : text.padEnd(widths[j - start]);
    }
    row += numeric ? items[end - 1].padStart(widths[end - 1 - start] - 2) : items[end - 1];
    rows.push(row);
  }
  return rows;
}

/** An Error as Node prints it: its stack, opened by the `Name: message` line that some engines' stacks lack. */
function formatError(e) {
  const head = errorHead(e);
  const stack = typeof e.stack === "string" ? e.stack.replace(/\n+$/, "") : "";
  if (!stack) return `[${head}]`;
  return stack.startsWith(head) || /^\S/.test(stack) ? stack : `${head}\n${stack}`;
}

function errorHead(e) {
  try {
    return String(e);
  } catch {
    return "Error";
  }
}

/** A property as Node shows it: accessors are not called but named `[Getter]`, `[Setter]` or `[Getter/Setter]`. */
function property(v, key, inner) {
  const name = typeof key === "symbol" ? `[${key.toString()}]` : IDENTIFIER.test(key) ? key : quote(key);
  const desc = Object.getOwnPropertyDescriptor(v, key);
  if (desc && (desc.get || desc.set)) return `${name}: ${desc.get ? (desc.set ? "[Getter/Setter]" : "[Getter]") : "[Setter]"}`;
  return `${name}: ${inner(v[key])}`;
}

/** Array entries with runs of holes as `<N empty items>`, and the count of entries left out. */
function arrayEntries(v, inner) {
  const items = [];
  const values = [];
  const length = v.length ?? 0;
  let i = 0;
  for (; i < length && items.length < MAX_ITEMS; i++) {
    if (Array.isArray(v) && !Object.prototype.hasOwnProperty.call(v, i)) {
      let end = i;
      while (end < length && !Object.prototype.hasOwnProperty.call(v, end)) end++;
      const holes = end - i;
      items.push(`<${holes} empty item${holes > 1 ? "s" : ""}>`);
      values.push(undefined);
      i = end - 1;
      continue;
    }
    values.push(v[i]);
    items.push(inner(v[i]));
  }
  const left = length - i;
  const more = left > 0 ? [`... ${left} more item${left > 1 ? "s" : ""}`] : [];
  return { items, values, more };
}

function formatValue(v, depth, seen, indent, refs = new Map()) {
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
      return v.name ? `[${kind}: ${v.name}]` : `[${kind} (anonymous)]`;
    }
  }
  if (v === null) return "null";
  if (seen.includes(v)) {
    // Numbered as Node numbers them: by the order in which the cycles are met.
    if (!refs.has(v)) refs.set(v, refs.size + 1);
    return `[Circular *${refs.get(v)}]`;
  }
  if (v instanceof Error) return formatError(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString();
  if (v instanceof RegExp) return String(v);
  if (v instanceof Promise) return "Promise { <unknown> }";
  const name = constructorName(v);
  const empty = v instanceof Map || v instanceof Set ? v.size === 0 : Object.keys(v).length === 0;
  if (depth < 0 && !empty) return Array.isArray(v) ? "[Array]" : `[${name || "Object"}]`;
  seen.push(v);
  // The object's `<ref *N>` mark, known once its entries are formatted: they are where a cycle back to it shows.
  const ref = (prefix) => (refs.has(v) ? `<ref *${refs.get(v)}> ${prefix}` : prefix);
  try {
    const inner = (x) => formatValue(x, depth - 1, seen, indent + 2, refs);
    if (Array.isArray(v) || ArrayBuffer.isView(v)) {
      const { items, values, more } = arrayEntries(v, inner);
      const prefix = Array.isArray(v) && name === "Array" ? "" : `${name}(${v.length ?? 0}) `;
      const rows = columns(items, values, indent);
      return wrap(ref(prefix), [...items, ...more], "[", "]", indent, rows && [...rows, ...more]);
    }
    if (v instanceof Map) {
      const items = [...v].slice(0, MAX_ITEMS).map(([k, x]) => `${inner(k)} => ${inner(x)}`);
      return wrap(ref(`Map(${v.size}) `), items, "{", "}", indent);
    }
    if (v instanceof Set) {
      const items = [...v].slice(0, MAX_ITEMS).map(inner);
      return wrap(ref(`Set(${v.size}) `), items, "{", "}", indent);
    }
    const symbols = Object.getOwnPropertySymbols(v).filter((key) => Object.prototype.propertyIsEnumerable.call(v, key));
    const items = [...Object.keys(v), ...symbols].map((key) => property(v, key, inner));
    const prefix = name === null ? "[Object: null prototype] " : name && name !== "Object" ? `${name} ` : "";
    return wrap(ref(prefix), items, "{", "}", indent);
  } finally {
    seen.pop();
  }
}

function inspect(value, options) {
  return formatValue(value, options?.depth ?? 2, [], 0);
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
          return typeof arg === "string"
            ? arg
            : typeof arg === "bigint"
              ? `${arg}n`
              : typeof arg === "object" && arg !== null
                ? formatValue(arg, 1, [], 0)
                : String(arg);
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
