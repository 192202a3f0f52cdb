import { createRouter, type NormalizedRequest, type Runtime, type RuntimeResult } from "coderouter";
import { SubprocessRuntime } from "@coderouter/runtime-subprocess";
import { e2bRows } from "./e2b.js";
import { wasmRows } from "./wasm.js";
import { httpRows } from "./http.js";
import { httpLoadRows } from "./http-load.js";
import { mcpRows } from "./mcp.js";
import { packageRows } from "./packages.js";
import { isolateRows } from "./isolate.js";
import { subprocessRows } from "./subprocess.js";
import { interleaved, percentile, summary } from "./measure.js";
import { peerTable } from "./peers.js";
import { printTable, type Row } from "./table.js";

/**
 * `npm run bench`: every row is a ratio against a baseline measured in the same run, alternating
 * with it, because these machines are shared and absolute numbers drift between runs.
 * `-- --quick` runs a tenth of the rounds; `-- --only=router|subprocess|isolate|http|mcp|packages|e2b|wasm` one group;
 * `-- --peers` prints the table of coderouter beside the libraries users pick instead, and nothing else.
 */
const rows: Row[] = [];
const quick = process.argv.includes("--quick");
const rounds = (n: number) => (quick ? Math.max(10, Math.floor(n / 10)) : n);

/** A runtime that does nothing, so the router's own cost (validation, scoring, dispatch, shaping) shows alone. */
class NoopRuntime implements Runtime {
  readonly id = "subprocess" as const;
  capabilities() {
    return new SubprocessRuntime({}).capabilities();
  }
  async availability() {
    return { available: true, reason: "no-op" };
  }
  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    return { ok: true, runtime: this.id, language: request.language, output: null, stdout: "", stderr: "", metadata: { durationMs: 0 } };
  }
  async close() {}
}

async function routerOverhead(): Promise<void> {
  const noop = new NoopRuntime();
  const router = createRouter({ env: {}, runtimes: { subprocess: noop }, settings: { enabledRuntimes: ["subprocess"] } });
  const request = { language: "python" as const, code: "1 + 1" };
  const normalized: NormalizedRequest = { ...request, inputs: {}, timeoutMs: 30_000, isolation: "none", maxOutputBytes: 1 << 20 };
  for (let i = 0; i < 2000; i++) await router.execute(request); // warm-up: JIT and caches
  const [viaRouter, direct] = await interleaved(
    rounds(20_000),
    () => router.execute(request),
    () => noop.execute(normalized),
  );
  const overheadUs = (percentile(viaRouter, 50) - percentile(direct, 50)) * 1000;
  rows.push({
    name: "router overhead (no-op runtime)",
    ours: summary(viaRouter, 0),
    baseline: summary(direct, 0),
    baselineName: "the no-op runtime called directly",
    target: `p50 overhead < 50 µs (measured ${overheadUs.toFixed(1)} µs)`,
    met: overheadUs < 50,
  });
  await router.close();
}

const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7);
if (process.argv.includes("--peers")) {
  console.log(await peerTable(quick));
  process.exit(0);
}
if (!only || only === "router") await routerOverhead();
if (!only || only === "subprocess") rows.push(...(await subprocessRows(rounds)));
if (!only || only === "isolate") rows.push(...(await isolateRows(rounds)));
if (!only || only === "http") rows.push(...(await httpRows(rounds)), ...(await httpLoadRows(rounds)));
if (!only || only === "mcp") rows.push(...(await mcpRows(rounds)));
if (!only || only === "packages") rows.push(...(await packageRows(rounds)));
if (!only || only === "e2b") rows.push(...(await e2bRows(rounds)));
if (!only || only === "wasm") rows.push(...(await wasmRows(rounds)));
printTable(rows);
