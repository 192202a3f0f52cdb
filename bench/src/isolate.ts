import ivm from "isolated-vm";
import { createRouter, type Router } from "coderouter";
import { interleaved, p50RatioRow, percentile, summary, throughput } from "./measure.js";
import type { Row } from "./table.js";

/**
 * The isolate against raw isolated-vm doing the least an execution can: a fresh context in a warm
 * isolate and one eval. Throughput with 2 requests per core in flight, and memory over a long run.
 */
export async function isolateRows(rounds: (n: number) => number): Promise<Row[]> {
  const rows: Row[] = [];
  const router = createRouter({ settings: { enabledRuntimes: ["isolate"] } });
  const request = { language: "javascript" as const, code: "1 + 1", runtime: "isolate" };
  const raw = new ivm.Isolate({ memoryLimit: 128 });
  const bare = async () => {
    const context = await raw.createContext();
    await context.eval("1 + 1");
    context.release();
  };
  const ours = () => router.execute(request);
  for (let i = 0; i < 500; i++) await Promise.all([ours(), bare()]);

  const [oursSamples, rawSamples] = await interleaved(rounds(6000), ours, bare, rounds(500));
  const ratio = percentile(oursSamples, 50) / percentile(rawSamples, 50);
  const oursRate = await throughput(rounds(20_000), 4, ours);
  const rawRate = await throughput(rounds(20_000), 4, bare);
  rows.push({
    name: "isolate, trivial execution through the router",
    ours: summary(oursSamples, oursRate),
    baseline: summary(rawSamples, rawRate),
    baselineName: "raw isolated-vm: a fresh context in a warm isolate plus one eval",
    target: `p50 ≤ 1.5× raw (measured ${ratio.toFixed(2)}×); ≥ 1500 exec/s with 4 in flight (measured ${oursRate.toFixed(0)})`,
    met: ratio <= 1.5 && oursRate >= 1500,
  });

  rows.push(await transformRow(router, rounds));

  // Memory: RSS after 10,000 executions against RSS after the first 1,000.
  const total = rounds(10_000);
  const firstK = Math.min(1000, total);
  for (let i = 0; i < firstK; i++) await ours();
  global.gc?.();
  const rssAfter1k = process.memoryUsage().rss;
  for (let i = firstK; i < total; i++) await ours();
  global.gc?.();
  const rssAfter10k = process.memoryUsage().rss;
  const growth = rssAfter10k / rssAfter1k;
  const mb = (bytes: number) => bytes / 1024 / 1024;
  rows.push({
    name: `isolate, RSS after ${total} executions vs after ${firstK}`,
    ours: { p50: mb(rssAfter10k), p99: mb(rssAfter10k), perSecond: 0 },
    baseline: { p50: mb(rssAfter1k), p99: mb(rssAfter1k), perSecond: 0 },
    baselineName: `RSS after the first ${firstK} executions`,
    unit: "MB",
    target: `within 10% (measured ${((growth - 1) * 100).toFixed(1)}%)`,
    met: growth <= 1.1,
  });
  raw.dispose();
  await router.close();
  return rows;
}

/**
 * A code node's transform over 1,000 input objects, through the router (inputs validated, copied in
 * as data, the output converted) against raw isolated-vm given the same objects by ExternalCopy and
 * returning its result by copy, as a user of the library would write it.
 */
async function transformRow(router: Router, rounds: (n: number) => number): Promise<Row> {
  // The router's isolates have ISOLATE_MEMORY_MB (256) of heap; a smaller heap collects more often
  // on this much data (128 MB measured ~12% slower), so raw gets the same limit.
  const raw = new ivm.Isolate({ memoryLimit: 256 });
  const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.5, tags: ["a", "b"], active: i % 2 === 0 }));
  const code = "rows.filter((r) => r.active).map((r) => ({ id: r.id, name: r.name.toUpperCase(), total: r.price * 2, tags: r.tags.length }))";
  const ours = async () => {
    const result = await router.execute({ language: "javascript", code, inputs: { rows }, runtime: "isolate" });
    if (!result.ok) throw new Error(result.error?.message);
  };
  const bare = async () => {
    const context = await raw.createContext();
    await context.global.set("rows", new ivm.ExternalCopy(rows).copyInto());
    await context.eval(code, { copy: true });
    context.release();
  };
  for (let i = 0; i < 100; i++) await Promise.all([ours(), bare()]);
  const [oursSamples, rawSamples] = await interleaved(rounds(3000), ours, bare, rounds(300));
  raw.dispose();
  return p50RatioRow(
    {
      name: "isolate, 1,000-object transform through the router",
      baselineName: "raw isolated-vm (same 256 MB heap): a fresh context, the objects by ExternalCopy, the result by copy",
    },
    oursSamples,
    rawSamples,
    (ratio) => ({ target: `p50 ≤ 1.3× raw (measured ${ratio.toFixed(2)}×)`, met: ratio <= 1.3 }),
  );
}
