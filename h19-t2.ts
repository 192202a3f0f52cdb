import ivm from "isolated-vm";
import { createRouter } from "coderouter";
import { IsolateRuntime } from "@coderouter/runtime-isolate";
import { percentile } from "./bench/src/measure.ts";
const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.5, tags: ["a", "b"], active: i % 2 === 0 }));
const code = "return rows.filter((r) => r.active).map((r) => ({ id: r.id, name: r.name.toUpperCase(), total: r.price * 2, tags: r.tags.length }));";
const router = createRouter({ settings: { enabledRuntimes: ["isolate"] } });
const rt = new IsolateRuntime({ poolSize: 2, memoryMb: 256, maxExecutions: 500, fetchAllow: [], fetchTimeoutMs: 1000, fetchMaxBytes: 1000, fetchAllowPrivate: false, wasm: false });
const raw = new ivm.Isolate({ memoryLimit: 128 });
const variants: Record<string, () => Promise<unknown>> = {
  raw: async () => { const c = await raw.createContext(); await c.global.set("rows", new ivm.ExternalCopy(rows).copyInto()); const o = await c.eval(`(() => { ${code} })()`, { copy: true }); c.release(); return o; },
  rawJson: async () => { const c = await raw.createContext(); await c.evalClosure("globalThis.rows = JSON.parse($0)", [JSON.stringify(rows)]); const o = JSON.parse(await c.eval(`JSON.stringify((() => { ${code} })())`)); c.release(); return o; },
  router: () => router.execute({ language: "javascript", code, inputs: { rows }, runtime: "isolate" }),
  runtime: () => rt.execute({ language: "javascript", code, inputs: { rows }, timeoutMs: 30000, isolation: "sandbox", maxOutputBytes: 1 << 20 }),
};
for (const f of Object.values(variants)) for (let i = 0; i < 200; i++) await f();
const s: Record<string, number[]> = {};
for (let r = 0; r < 20; r++) for (const [n, f] of Object.entries(variants)) { s[n] ??= []; for (let i = 0; i < 50; i++) { const t = performance.now(); await f(); s[n].push(performance.now() - t); } }
for (const n in s) console.log(n, percentile(s[n], 50).toFixed(3), (percentile(s[n], 50) / percentile(s.raw, 50)).toFixed(2));
await router.close(); await rt.close();
