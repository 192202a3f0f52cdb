import type { ParityProgram } from "./parity-programs.js";

/** Only what an engine's stack can match: the first two lines, frames without paths or columns. */
const errorHead = (text: string) =>
  text
    .split("\n")
    .slice(0, 2)
    .map((line) => line.replace(/\((?:.*\/)?main\.js:(\d+):\d+\)/, "(main.js:$1)"))
    .join("\n");

export const JAVASCRIPT_PARITY: ParityProgram[] = [
  {
    name: "BigInts come back as their exact digits, numbers as the doubles they are",
    body: "const values = [2n ** 64n, -(2n ** 70n), 2 ** 53 + 2, 2 ** 64, 1e20, Number.MAX_SAFE_INTEGER, 0.1 + 0.2, NaN, -Infinity]",
    value: "values",
  },
  {
    name: "an uncaught exception names its class",
    body: "JSON.parse('{')",
    value: "null",
    compare: ["error", "stdout"],
  },
  {
    name: "console.log prints getters, holes and cycles as Node's util.inspect does, and returns undefined",
    body: `const account = { id: 7, get balance() { throw new Error("called") }, set limit(v) {}, get both() { return 1 }, set both(v) {} };
const node = { name: "root", children: [] };
node.children.push({ parent: node }, [node]);
const list = [1];
list.push(list);
const returned = console.log(account, [1, , 3, , , 6], new Array(4), node, list, { [Symbol("tag")]: "x", "not id": 1 });`,
    value: "[typeof returned]",
  },
  {
    name: "console.table, group, dir, count and time write stdout; warn, error and assert stderr",
    body: `console.table([{ a: 1, b: "x" }, { a: 22, c: true }]);
console.table({ first: { x: 1 }, second: { x: "long text" } });
console.table([1, "two", { a: 1 }]);
console.group("outer");
console.log("in\\nside");
console.group();
console.warn("deeper");
console.groupEnd();
console.groupEnd();
console.dir({ a: { b: { c: { d: 1 } } } });
console.count(); console.count("x"); console.count(); console.countReset(); console.count();
console.assert(false, "no %s", "way"); console.assert(false); console.assert(true, "never");
console.error("to %s", "stderr", { n: 1 });
console.info("info"); console.debug("debug");`,
    value: "null",
  },
  {
    name: "console.log of an error prints its Name: message line and the code's line numbers",
    body: `function fail() {
  throw new TypeError("bad input")
}
try { fail() } catch (error) { console.log(error) }`,
    value: "null",
    compare: ["output", "error"],
    normalize: { stdout: errorHead },
  },
  {
    name: "the web globals exist and behave as Node's",
    body: `const order = [];
queueMicrotask(() => order.push("micro"));
order.push("sync");
await null;
const original = { d: new Date(0), m: new Map([["k", [1, 2]]]), s: new Set(["v"]), t: new Uint8Array([1, 2]) };
original.self = original;
const copy = structuredClone(original);
let cloneError;
try { structuredClone(() => 1) } catch (e) { cloneError = e.name }
const bytes = new TextEncoder().encode("aé中😀\\ud800");
const url = new URL("../up/./file.txt?x=1 2#top", "https://User:pw@Example.COM:443/a/b/c");
url.searchParams.append("y", "ä&b");
const values = [order, copy.self === copy, copy.d.getTime(), [...copy.m.get("k")], copy !== original, cloneError,
  Array.from(bytes), new TextDecoder().decode(new Uint8Array([0xe2, 0x82, 0x41, 0xff, 0xf0, 0x9f, 0x98, 0x80])),
  btoa("hi\\u00ff"), atob("aGk/"), url.href, url.origin, url.host, url.searchParams.get("y"), String(new URLSearchParams({ q: "a b", r: "~" }))]`,
    value: "values",
  },
  {
    name: "recursion 10,000 deep runs",
    body: "function depth(n) { return n === 0 ? 0 : 1 + depth(n - 1) }",
    value: "depth(10000)",
  },
  {
    name: "a stack overflow is a RangeError",
    body: `function forever(n) { return 1 + forever(n + 1) }
let caught
try { forever(0) } catch (error) { caught = [error instanceof RangeError, error.name] }`,
    value: "caught",
  },
  {
    name: "Intl formats numbers and dates for a locale",
    body: "const formatted = typeof Intl === 'object' ? [new Intl.NumberFormat('de-DE').format(1234.5), new Date(0).toLocaleDateString('en-US', { timeZone: 'UTC' })] : null",
    value: "formatted",
    differs: { wasm: { output: null } },
  },
  {
    name: "a lone surrogate is written as one replacement character",
    body: `console.log("a\\ud800b", "\\udc00")`,
    value: "null",
  },
];
