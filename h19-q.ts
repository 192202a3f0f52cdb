import ivm from "isolated-vm";
import { readFileSync } from "node:fs";
import { percentile } from "./bench/src/measure.ts";
const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.5, tags: ["a", "b"], active: i % 2 === 0 }));
const code = "rows.filter((r) => r.active).map((r) => ({ id: r.id, name: r.name.toUpperCase(), total: r.price * 2, tags: r.tags.length }))";
const toOut = readFileSync("packages/core/runners/to-output.cjs", "utf8");
const iso = new ivm.Isolate({ memoryLimit: 128 });
const variants: Record<string, () => Promise<unknown>> = {
  raw: async () => { const c = await iso.createContext(); await c.global.set("rows", new ivm.ExternalCopy(rows).copyInto()); const o = await c.eval(code, { copy: true }); c.release(); return o; },
  json: async () => { const c = await iso.createContext(); await c.evalClosure("globalThis.rows = JSON.parse($0)", [JSON.stringify(rows)]); const o = JSON.parse(await c.eval(`JSON.stringify(${code})`)); c.release(); return o; },
  jsonToOutput: async () => { const c = await iso.createContext(); await c.eval(`var module = {exports: {}};` + toOut); await c.evalClosure("globalThis.rows = JSON.parse($0)", [JSON.stringify(rows)]); const o = JSON.parse(await c.eval(`JSON.stringify(module.exports.toOutput(${code}))`)); c.release(); return o; },
  jsonToOutputOnly: async () => { const c = await iso.createContext(); await c.eval(`var module = {exports: {}};` + toOut); c.release(); },
  copyInJsonOut: async () => { const c = await iso.createContext(); await c.global.set("rows", new ivm.ExternalCopy(rows).copyInto()); const o = JSON.parse(await c.eval(`JSON.stringify(${code})`)); c.release(); return o; },
};
for (const [n, f] of Object.entries(variants)) for (let i = 0; i < 300; i++) await f();
const s: Record<string, number[]> = {};
for (let r = 0; r < 10; r++) for (const [n, f] of Object.entries(variants)) { s[n] ??= []; for (let i = 0; i < 100; i++) { const t = performance.now(); await f(); s[n].push(performance.now() - t); } }
for (const n in s) console.log(n, percentile(s[n], 50).toFixed(3));
