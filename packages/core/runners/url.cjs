// URL and URLSearchParams for engines without them (a bare V8 isolate, QuickJS): the WHATWG
// parser's behaviour for ordinary URLs (special schemes with hosts, ports, dot segments and
// percent-encoding; other schemes kept opaque; relative references against a base). Not covered:
// IDNA (non-ASCII host names) and IPv6 normalisation. Plain CommonJS with no imports.
"use strict";

const DEFAULT_PORTS = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443", "ftp:": "21", "file:": "" };
// biome-ignore lint/suspicious/noControlCharactersInRegex: the URL standard's percent-encode sets start at the C0 controls
const PATH_UNSAFE = /[\u0000-\u0020"#<>?`{}\u007f-\uffff]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the URL standard's percent-encode sets start at the C0 controls
const QUERY_UNSAFE = /[\u0000-\u0020"#<>\u007f-\uffff]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the URL standard's percent-encode sets start at the C0 controls
const FRAGMENT_UNSAFE = /[\u0000-\u0020"<>`\u007f-\uffff]/g;
const percentEncode = (text, unsafe) => text.replace(unsafe, (c) => encodeURIComponent(c));

function invalid(input) {
  return new TypeError(`Invalid URL: ${input}`);
}

/** Removes `.` and `..` segments, as the URL parser does for special schemes. */
function normalizePath(path) {
  const out = [];
  const segments = path.split("/").slice(1);
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === "." || segment.toLowerCase() === "%2e") {
      if (last) out.push("");
    } else if (segment === ".." || /^(\.|%2e){2}$/i.test(segment)) {
      out.pop();
      if (last) out.push("");
    } else out.push(segment);
  });
  return `/${out.join("/")}`;
}

function parse(input, base) {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the URL standard strips leading and trailing C0 controls and spaces
  const outerControls = /^[\u0000-\u0020]+|[\u0000-\u0020]+$/g;
  const text = String(input)
    .replace(outerControls, "")
    .replace(/[\t\n\r]/g, "");
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text);
  if (!scheme) {
    if (!base) throw invalid(input);
    return resolve(text, base);
  }
  const protocol = `${scheme[1].toLowerCase()}:`;
  let rest = text.slice(scheme[0].length);
  const special = protocol in DEFAULT_PORTS;
  if (special) rest = rest.replace(/\\/g, "/");
  if (special && base && base.protocol === protocol && !rest.startsWith("/")) return resolve(rest, base);
  const parts = { protocol, username: "", password: "", hostname: "", port: "", pathname: "", search: "", hash: "" };
  const hashAt = rest.indexOf("#");
  if (hashAt >= 0) [rest, parts.hash] = [rest.slice(0, hashAt), rest.slice(hashAt)];
  const queryAt = rest.indexOf("?");
  if (queryAt >= 0) [rest, parts.search] = [rest.slice(0, queryAt), rest.slice(queryAt)];
  if (special || rest.startsWith("//")) {
    rest = rest.replace(special && protocol !== "file:" ? /^\/*/ : /^\/\//, "");
    const slash = rest.indexOf("/");
    const authority = slash >= 0 ? rest.slice(0, slash) : rest;
    rest = slash >= 0 ? rest.slice(slash) : special ? "/" : "";
    setAuthority(parts, authority, input);
    if (special && !parts.hostname && protocol !== "file:") throw invalid(input);
    parts.pathname = special ? normalizePath(percentEncode(rest, PATH_UNSAFE)) : percentEncode(rest, PATH_UNSAFE);
  } else {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the URL standard's percent-encode sets start at the C0 controls
    parts.pathname = percentEncode(rest, /[\u0000-\u001f\u007f-\uffff]/g);
  }
  return finish(parts);
}

function setAuthority(parts, authority, input) {
  const at = authority.lastIndexOf("@");
  if (at >= 0) {
    const [user, ...password] = authority.slice(0, at).split(":");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the URL standard's percent-encode sets start at the C0 controls
    parts.username = percentEncode(user, /[\u0000-\u0020"#<>?`{}/:;=@[\\\]^|\u007f-\uffff]/g);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the URL standard's percent-encode sets start at the C0 controls
    parts.password = percentEncode(password.join(":"), /[\u0000-\u0020"#<>?`{}/:;=@[\\\]^|\u007f-\uffff]/g);
    authority = authority.slice(at + 1);
  }
  const port = /:(\d*)$/.exec(authority);
  if (port) authority = authority.slice(0, port.index);
  let hostname = authority;
  try {
    hostname = decodeURIComponent(authority).toLowerCase();
  } catch {
    throw invalid(input);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the URL standard's percent-encode sets start at the C0 controls
  if (/[\u0000\t\n\r #/<>?@[\\\]^|%]/.test(hostname.replace(/^\[[0-9a-f:.]+\]$/, "ipv6"))) throw invalid(input);
  parts.hostname = hostname;
  if (port && port[1] !== "") {
    const number = Number(port[1]);
    if (number > 65535) throw invalid(input);
    parts.port = String(number) === DEFAULT_PORTS[parts.protocol] ? "" : String(number);
  }
}

function resolve(reference, base) {
  const parts = { ...base.parts, search: "", hash: "" };
  let rest = reference;
  if (base.protocol in DEFAULT_PORTS) rest = rest.replace(/\\/g, "/");
  if (rest.startsWith("//")) return parse(`${base.protocol}${rest}`);
  const hashAt = rest.indexOf("#");
  if (hashAt >= 0) [rest, parts.hash] = [rest.slice(0, hashAt), rest.slice(hashAt)];
  const queryAt = rest.indexOf("?");
  if (queryAt >= 0) [rest, parts.search] = [rest.slice(0, queryAt), rest.slice(queryAt)];
  else if (rest === "") parts.search = base.parts.search;
  if (rest.startsWith("/")) parts.pathname = normalizePath(percentEncode(rest, PATH_UNSAFE));
  else if (rest !== "") parts.pathname = normalizePath(`${base.parts.pathname.replace(/[^/]*$/, "")}${percentEncode(rest, PATH_UNSAFE)}`);
  return finish(parts);
}

function finish(parts) {
  parts.search = parts.search === "?" ? "" : percentEncode(parts.search, QUERY_UNSAFE);
  parts.hash = parts.hash === "#" ? "" : percentEncode(parts.hash, FRAGMENT_UNSAFE);
  return parts;
}

class URLSearchParams {
  #list = [];
  #onChange;

  constructor(init = "", onChange) {
    this.#onChange = onChange;
    if (typeof init === "object" && init !== null) {
      const pairs = typeof init[Symbol.iterator] === "function" ? [...init] : Object.entries(init);
      this.#list = pairs.map(([k, v]) => [String(k), String(v)]);
    } else this.#parse(String(init));
  }

  #parse(text) {
    this.#list = text
      .replace(/^\?/, "")
      .split("&")
      .filter(Boolean)
      .map((pair) => {
        const [k, ...v] = pair.split("=");
        const decode = (s) => decodeURIComponent(s.replace(/\+/g, " ").replace(/%(?![0-9a-fA-F]{2})/g, "%25"));
        return [decode(k), decode(v.join("="))];
      });
  }

  #changed() {
    this.#onChange?.(this.toString());
  }

  /** Called by URL when its search changes, without notifying back. */
  static reset(params, search) {
    params.#parse(search);
  }

  get size() {
    return this.#list.length;
  }

  append(name, value) {
    this.#list.push([String(name), String(value)]);
    this.#changed();
  }

  delete(name) {
    this.#list = this.#list.filter(([k]) => k !== String(name));
    this.#changed();
  }

  get(name) {
    return this.#list.find(([k]) => k === String(name))?.[1] ?? null;
  }

  getAll(name) {
    return this.#list.filter(([k]) => k === String(name)).map(([, v]) => v);
  }

  has(name) {
    return this.#list.some(([k]) => k === String(name));
  }

  set(name, value) {
    const at = this.#list.findIndex(([k]) => k === String(name));
    if (at < 0) this.#list.push([String(name), String(value)]);
    else this.#list = this.#list.filter(([k], i) => i === at || k !== String(name)).map((p) => (p[0] === String(name) ? [p[0], String(value)] : p));
    this.#changed();
  }

  sort() {
    this.#list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.#changed();
  }

  forEach(callback, thisArg) {
    for (const [k, v] of this.#list) callback.call(thisArg, v, k, this);
  }

  keys() {
    return this.#list.map(([k]) => k)[Symbol.iterator]();
  }

  values() {
    return this.#list.map(([, v]) => v)[Symbol.iterator]();
  }

  entries() {
    return this.#list.map((p) => [...p])[Symbol.iterator]();
  }

  [Symbol.iterator]() {
    return this.entries();
  }

  toString() {
    const encode = (s) =>
      encodeURIComponent(s)
        .replace(/%20/g, "+")
        .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    return this.#list.map(([k, v]) => `${encode(k)}=${encode(v)}`).join("&");
  }
}

class URL {
  #parts;
  #params;

  constructor(input, base) {
    const baseUrl = base === undefined ? undefined : base instanceof URL ? base : new URL(base);
    this.#parts = parse(input, baseUrl && { protocol: baseUrl.protocol, parts: baseUrl.#parts });
    this.#params = new URLSearchParams(this.#parts.search, (query) => {
      this.#parts.search = query ? `?${query}` : "";
    });
  }

  static canParse(input, base) {
    try {
      new URL(input, base);
      return true;
    } catch {
      return false;
    }
  }

  get protocol() {
    return this.#parts.protocol;
  }
  get username() {
    return this.#parts.username;
  }
  get password() {
    return this.#parts.password;
  }
  get hostname() {
    return this.#parts.hostname;
  }
  get port() {
    return this.#parts.port;
  }
  get host() {
    return this.#parts.hostname + (this.#parts.port ? `:${this.#parts.port}` : "");
  }
  get pathname() {
    return this.#parts.pathname;
  }
  get search() {
    return this.#parts.search;
  }
  get hash() {
    return this.#parts.hash;
  }
  get searchParams() {
    return this.#params;
  }

  get origin() {
    const { protocol } = this.#parts;
    return protocol in DEFAULT_PORTS && protocol !== "file:" ? `${protocol}//${this.host}` : "null";
  }

  get href() {
    const p = this.#parts;
    const credentials = p.username || p.password ? `${p.username}${p.password ? `:${p.password}` : ""}@` : "";
    const authority = p.protocol in DEFAULT_PORTS || p.hostname ? `//${credentials}${this.host}` : "";
    return `${p.protocol}${authority}${p.pathname}${p.search}${p.hash}`;
  }

  set search(value) {
    const text = String(value).replace(/^\?/, "");
    this.#parts.search = text ? percentEncode(`?${text}`, QUERY_UNSAFE) : "";
    URLSearchParams.reset(this.#params, this.#parts.search);
  }

  set hash(value) {
    const text = String(value).replace(/^#/, "");
    this.#parts.hash = text ? percentEncode(`#${text}`, FRAGMENT_UNSAFE) : "";
  }

  set pathname(value) {
    this.#parts.pathname = normalizePath(`/${percentEncode(String(value), PATH_UNSAFE).replace(/^\//, "")}`);
  }

  toString() {
    return this.href;
  }

  toJSON() {
    return this.href;
  }
}

module.exports = { URL, URLSearchParams };
