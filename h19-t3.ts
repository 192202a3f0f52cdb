import { IsolateRuntime } from "@coderouter/runtime-isolate";
import { percentile } from "./bench/src/measure.ts";
const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.5, tags: ["a", "b"], active: i % 2 === 0 }));
const code = process.env.CODE ?? "return rows.filter((r) => r.active).map((r) => ({ id: r.id, name: r.name.toUpperCase(), total: r.price * 2, tags: r.tags.length }));";
const rt = new IsolateRuntime({ poolSize: 2, memoryMb: 256, maxExecutions: 500, fetchAllow: [], fetchTimeoutMs: 1000, fetchMaxBytes: 1000, fetchAllowPrivate: false, wasm: false });
const f = () => rt.execute({ language: "javascript", code, inputs: { rows }, timeoutMs: 30000, isolation: "sandbox", maxOutputBytes: 1 << 20 });
for (let i = 0; i < 300; i++) await f();
const s: number[] = [];
for (let i = 0; i < 1500; i++) { const t = performance.now(); await f(); s.push(performance.now() - t); }
console.log(process.env.LABEL, percentile(s, 50).toFixed(3));
await rt.close();
