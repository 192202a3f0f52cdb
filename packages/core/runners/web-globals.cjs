// The web platform's everyday globals for JavaScript engines that have none of them (a bare V8
// isolate, QuickJS): queueMicrotask, structuredClone, TextEncoder/TextDecoder (UTF-8), atob/btoa,
// URL and URLSearchParams, behaving as Node's do for ordinary use. Plain CommonJS with no imports:
// it runs as guest source text. Each is installed only where the engine lacks it.
"use strict";

class DOMException extends Error {
  constructor(message = "", name = "Error") {
    super(message);
    Object.defineProperty(this, "name", { value: name, configurable: true, writable: true });
  }
}

function structuredClone(value) {
  const copies = new Map();
  const clone = (v) => {
    if (typeof v === "function" || typeof v === "symbol") throw new DOMException(`${String(v)} could not be cloned.`, "DataCloneError");
    if (v === null || typeof v !== "object") return v;
    if (copies.has(v)) return copies.get(v);
    const keep = (copy) => (copies.set(v, copy), copy);
    if (v instanceof Date) return keep(new Date(v.getTime()));
    if (v instanceof RegExp) return keep(new RegExp(v.source, v.flags));
    if (v instanceof Boolean || v instanceof Number || v instanceof String) return keep(Object(v.valueOf()));
    if (v instanceof ArrayBuffer) return keep(v.slice(0));
    if (ArrayBuffer.isView(v)) return keep(new v.constructor(clone(v.buffer), v.byteOffset, v instanceof DataView ? v.byteLength : v.length));
    if (v instanceof Map) {
      const copy = keep(new Map());
      for (const [k, x] of v) copy.set(clone(k), clone(x));
      return copy;
    }
    if (v instanceof Set) {
      const copy = keep(new Set());
      for (const x of v) copy.add(clone(x));
      return copy;
    }
    if (v instanceof Error) {
      const copy = keep(new (globalThis[v.name] ?? Error)(v.message));
      if (v.stack !== undefined) copy.stack = v.stack;
      return copy;
    }
    const copy = keep(Array.isArray(v) ? new Array(v.length) : {});
    for (const key of Object.keys(v)) copy[key] = clone(v[key]);
    return copy;
  };
  return clone(value);
}

class TextEncoder {
  get encoding() {
    return "utf-8";
  }

  /** UTF-8; a lone surrogate becomes U+FFFD, as the Encoding Standard says. */
  encode(input = "") {
    const text = String(input);
    const bytes = [];
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const next = text.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) bytes.push(c);
      else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return new Uint8Array(bytes);
  }

  encodeInto(input, target) {
    const bytes = this.encode(input);
    const written = Math.min(bytes.length, target.length);
    target.set(bytes.subarray(0, written));
    return { read: String(input).length, written };
  }
}

class TextDecoder {
  constructor(label = "utf-8", options = {}) {
    if (!/^(utf-?8|unicode-1-1-utf-8)$/i.test(String(label).trim())) throw new RangeError(`The "${label}" encoding is not supported`);
    this.fatal = Boolean(options.fatal);
    this.ignoreBOM = Boolean(options.ignoreBOM);
  }

  get encoding() {
    return "utf-8";
  }

  /** UTF-8 with each maximal invalid subpart replaced by one U+FFFD (or a TypeError when fatal). */
  decode(input = new Uint8Array(0)) {
    const bytes = ArrayBuffer.isView(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input);
    let out = "";
    let i = !this.ignoreBOM && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    const bad = () => {
      if (this.fatal) throw new TypeError("The encoded data was not valid for encoding utf-8");
      out += "\ufffd";
    };
    while (i < bytes.length) {
      const b = bytes[i];
      if (b < 0x80) {
        out += String.fromCharCode(b);
        i++;
        continue;
      }
      const [need, min, low, high] =
        b >= 0xc2 && b <= 0xdf
          ? [1, 0x80, 0x80, 0xbf]
          : b >= 0xe0 && b <= 0xef
            ? [2, 0x800, b === 0xe0 ? 0xa0 : 0x80, b === 0xed ? 0x9f : 0xbf]
            : b >= 0xf0 && b <= 0xf4
              ? [3, 0x10000, b === 0xf0 ? 0x90 : 0x80, b === 0xf4 ? 0x8f : 0xbf]
              : [0];
      if (!need) {
        bad();
        i++;
        continue;
      }
      let code = b & (0x3f >> need);
      let j = 1;
      for (; j <= need; j++) {
        const next = bytes[i + j];
        if (next === undefined || next < (j === 1 ? low : 0x80) || next > (j === 1 ? high : 0xbf)) break;
        code = (code << 6) | (next & 0x3f);
      }
      if (j <= need || code < min) {
        bad();
        i += j;
        continue;
      }
      out += String.fromCodePoint(code);
      i += need + 1;
    }
    return out;
  }
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function btoa(input) {
  const text = String(input);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: Latin-1 is every code unit from U+0000 up
  if (/[^\u0000-\u00ff]/.test(text)) throw new DOMException("Invalid character", "InvalidCharacterError");
  let out = "";
  for (let i = 0; i < text.length; i += 3) {
    const [a, b, c] = [text.charCodeAt(i), text.charCodeAt(i + 1), text.charCodeAt(i + 2)];
    const n = (a << 16) | ((b || 0) << 8) | (c || 0);
    out += BASE64[n >> 18] + BASE64[(n >> 12) & 63] + (i + 1 < text.length ? BASE64[(n >> 6) & 63] : "=") + (i + 2 < text.length ? BASE64[n & 63] : "=");
  }
  return out;
}

function atob(input) {
  let text = String(input).replace(/[\t\n\f\r ]/g, "");
  if (text.length % 4 === 0) text = text.replace(/==?$/, "");
  if (text.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(text))
    throw new DOMException("The string to be decoded is not correctly encoded.", "InvalidCharacterError");
  let out = "";
  let bits = 0;
  let buffer = 0;
  for (const ch of text) {
    buffer = (buffer << 6) | BASE64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((buffer >> bits) & 0xff);
    }
  }
  return out;
}

/**
 * Installs each global the engine lacks on `target`, non-enumerable as the engine's own are.
 * `url` is url.cjs's exports (guest files cannot require one another).
 */
function installWebGlobals(target, url) {
  const globals = { structuredClone, TextEncoder, TextDecoder, atob, btoa, DOMException, ...url };
  globals.queueMicrotask = (callback) => {
    if (typeof callback !== "function") throw new TypeError('The "callback" argument must be of type function');
    Promise.resolve().then(() => callback());
  };
  for (const [name, value] of Object.entries(globals)) {
    if (typeof target[name] === "undefined") Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
  }
}

module.exports = { installWebGlobals };
