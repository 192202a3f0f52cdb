import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { createRouter, type ExecutionRequestInput } from "coderouter";
import { percentile } from "./measure.js";
import type { Row } from "./table.js";

const CLI = fileURLToPath(new URL("../../packages/cli/bin/coderouter.js", import.meta.url));

interface Case {
  runtime: "isolate" | "subprocess";
  /** The isolation is named, so the server's default (sandbox where one is ready) does not change what runs. */
  request: ExecutionRequestInput;
  /** The least ratio of HTTP throughput to router.execute() throughput; undefined: recorded only. */
  target?: number;
}

const CASES: Case[] = [
  { runtime: "isolate", request: { language: "javascript", code: "1 + 1", runtime: "isolate", isolation: "sandbox" }, target: 0.8 },
  { runtime: "subprocess", request: { language: "python", code: "1 + 1", runtime: "subprocess", isolation: "process" } },
];

/**
 * `coderouter serve` under load: the real CLI in a process of its own, driven by autocannon over
 * keep-alive connections, against `router.execute()` with as many requests in flight in this
 * process. The two alternate in blocks, so the machine's noise falls on both.
 */
export async function httpLoadRows(rounds: (n: number) => number): Promise<Row[]> {
  const rows: Row[] = [];
  const blockMs = rounds(50) >= 50 ? 4000 : 1500;
  for (const c of CASES) {
    const server = await startServe(c.runtime);
    const router = createRouter({ settings: { enabledRuntimes: [c.runtime] } });
    try {
      const body = JSON.stringify(c.request);
      const direct = () => router.execute(c.request);
      // Warm-up: JIT, pools grown to the load, the server's first-request checks.
      await load(server.url, body, 32, 1500);
      await timedThroughput(1500, 32, direct);
      for (const connections of [8, 32]) {
        const http = { requests: 0, ms: 0, latencies: [] as number[] };
        const local = { requests: 0, ms: 0, latencies: [] as number[] };
        for (let block = 0; block < 2; block++) {
          const served = await load(server.url, body, connections, blockMs);
          http.requests += served.requests;
          http.ms += served.ms;
          http.latencies.push(...served.latencies);
          const ran = await timedThroughput(blockMs, connections, direct);
          local.requests += ran.requests;
          local.ms += ran.ms;
          local.latencies.push(...ran.latencies);
        }
        const httpRate = (http.requests / http.ms) * 1000;
        const localRate = (local.requests / local.ms) * 1000;
        const ratio = httpRate / localRate;
        const p50 = percentile(http.latencies, 50);
        const p99 = percentile(http.latencies, 99);
        const tail = p99 / p50;
        rows.push({
          name: `coderouter serve, ${c.runtime} ${c.request.language} \`1 + 1\`, ${connections} keep-alive connections`,
          ours: { p50, p99, perSecond: httpRate },
          baseline: { p50: percentile(local.latencies, 50), p99: percentile(local.latencies, 99), perSecond: localRate },
          baselineName: `router.execute() on the same settings in the bench's process, ${connections} in flight`,
          target:
            c.target === undefined
              ? `recorded, no target (${ratio.toFixed(2)}× the throughput, p99 ${tail.toFixed(1)}× p50)`
              : `≥ ${c.target}× the throughput, p99 ≤ 4× p50 (measured ${ratio.toFixed(2)}×, ${tail.toFixed(1)}×)`,
          met: c.target === undefined || (ratio >= c.target && tail <= 4),
        });
      }
    } finally {
      await router.close();
      await server.stop();
    }
  }
  return rows;
}

/** autocannon against POST /v1/execute for `ms`: requests answered 200, and their latencies (ms). */
async function load(url: string, body: string, connections: number, ms: number): Promise<{ requests: number; ms: number; latencies: number[] }> {
  const latencies: number[] = [];
  const started = performance.now();
  const result = await autocannon({
    url: `${url}/v1/execute`,
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
    connections,
    duration: ms / 1000,
    setupClient: (client) => {
      client.on("response", (_status: number, _bytes: number, durationMs: number) => latencies.push(durationMs));
    },
  });
  if (result.non2xx || result.errors) throw new Error(`the server answered ${result.non2xx} non-2xx and ${result.errors} errors`);
  return { requests: result.requests.total, ms: performance.now() - started, latencies };
}

/** router.execute() with `concurrency` in flight for `ms`. */
async function timedThroughput(ms: number, concurrency: number, fn: () => Promise<unknown>): Promise<{ requests: number; ms: number; latencies: number[] }> {
  const latencies: number[] = [];
  const started = performance.now();
  const end = started + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await fn();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { requests: latencies.length, ms: performance.now() - started, latencies };
}

/** `coderouter serve` on a free loopback port with only `runtime` enabled. */
async function startServe(runtime: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, [CLI, "serve", "--port", "0"], {
    env: { ...process.env, CODEROUTER_RUNTIMES: runtime, DEBUG: "" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const found = /listening on (http:\/\/\S+)/.exec(text);
      if (found) resolve(found[1]!);
    });
    child.once("exit", (code) => reject(new Error(`coderouter serve exited (${code}): ${text}`)));
  });
  child.stderr!.resume();
  return {
    url,
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
