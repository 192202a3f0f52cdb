import { IsolateRuntime } from "@coderouter/runtime-isolate";
import type { NormalizedRequest, RuntimeResult } from "@coderouter/core";
// The attack lists straight from the conformance suite's source: its index pulls in vitest.
import { JS_ESCAPES, JS_RESOURCE_ATTACKS } from "../../packages/conformance/src/escapes.js";

/**
 * The soak that decides whether the isolate keeps isolated-vm's Isolate.createSnapshot (its README
 * calls snapshots unstable): `npm run soak:isolate [-- N]` runs N executions (default 100,000),
 * 4 in flight, with the conformance suite's escapes and resource attacks mixed in, and checks every
 * answer. It ends by itself (exit code 0) only if nothing crashed and every answer was right.
 * Not a test: it takes minutes.
 */
const total = Number(process.argv[2] ?? 100_000);
const inFlight = 4;
const runtime = new IsolateRuntime({
  poolSize: 2,
  poolMax: 8,
  memoryMb: 128,
  maxExecutions: 500,
  fetchAllow: [],
  fetchTimeoutMs: 1000,
  fetchMaxBytes: 1 << 16,
  fetchAllowPrivate: false,
  wasm: false,
});

const WASM_ATTACK = "const ms = []\nfor (let i = 0; i < 8; i++) ms.push(new WebAssembly.Memory({ initial: 4096 }))\nms.length";
const request = (code: string, extra: Partial<NormalizedRequest> = {}): NormalizedRequest => ({
  language: "javascript",
  code,
  inputs: {},
  timeoutMs: 5000,
  isolation: "sandbox",
  maxOutputBytes: 1 << 20,
  ...extra,
});

type Check = (result: RuntimeResult) => boolean;
function job(i: number): [NormalizedRequest, Check, string] {
  if (i % 997 === 0) {
    const attack = JS_RESOURCE_ATTACKS[(i / 997) % JS_RESOURCE_ATTACKS.length]!;
    return [request(attack.code, { timeoutMs: 2000, memoryMb: 64 }), (r) => !r.ok && attack.kinds.includes(r.error?.kind ?? ""), attack.name];
  }
  if (i % 101 === 0) return [request(WASM_ATTACK, { memoryMb: 64 }), (r) => r.error?.message === "WebAssembly is not defined", "WebAssembly memory"];
  if (i % 50 === 0) {
    const attempt = JS_ESCAPES[(i / 50) % JS_ESCAPES.length]!;
    return [request(attempt.code, { inputs: { nested: { a: [1] } } }), (r) => r.ok && r.output === null, attempt.name];
  }
  return [
    request("globalThis.seen = (globalThis.seen ?? 0) + 1;\n[inputs.n * 2, globalThis.seen]", { inputs: { n: i } }),
    (r) => JSON.stringify(r.output) === JSON.stringify([i * 2, 1]),
    "trivial",
  ];
}

const started = performance.now();
const failures = new Map<string, number>();
let next = 0;
let done = 0;
const rssStart = process.memoryUsage().rss;
async function worker(): Promise<void> {
  while (next < total) {
    const [req, check, name] = job(next++);
    const result = await runtime.execute(req);
    if (!check(result)) {
      failures.set(name, (failures.get(name) ?? 0) + 1);
      if ((failures.get(name) ?? 0) <= 3)
        console.error(`wrong answer (${name}):`, JSON.stringify({ output: result.output, error: result.error }).slice(0, 300));
    }
    if (++done % 10_000 === 0)
      console.log(`${done} executions, ${((performance.now() - started) / 1000).toFixed(0)} s, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`);
  }
}
await Promise.all(Array.from({ length: inFlight }, worker));
await runtime.close();
const seconds = (performance.now() - started) / 1000;
console.log(
  `${done} executions in ${seconds.toFixed(0)} s (${(done / seconds).toFixed(0)}/s); RSS ${(rssStart / 2 ** 20).toFixed(0)} → ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB; wrong answers: ${failures.size ? JSON.stringify(Object.fromEntries(failures)) : "none"}`,
);
process.exitCode = failures.size ? 1 : 0;
