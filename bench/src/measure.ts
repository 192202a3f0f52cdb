import type { Row } from "./table.js";

/** Latency samples in milliseconds, summarised as the bench table prints them. */
export interface Summary {
  p50: number;
  p99: number;
  perSecond: number;
}

export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Runs `a` and `b` alternately, `rounds` times each, so that the machine's noise (these machines
 * are shared) falls on both sides of every ratio alike. With `blockSize` > 1 they alternate in
 * blocks, so that background work one side leaves behind (a pool refilling) is charged to it.
 */
export async function interleaved(rounds: number, a: () => Promise<unknown>, b: () => Promise<unknown>, blockSize = 1): Promise<[number[], number[]]> {
  const sa: number[] = [];
  const sb: number[] = [];
  for (let i = 0; i < rounds; i += blockSize) {
    const order =
      (i / blockSize) % 2
        ? ([
            [b, sb],
            [a, sa],
          ] as const)
        : ([
            [a, sa],
            [b, sb],
          ] as const);
    for (const [fn, samples] of order) {
      for (let j = 0; j < blockSize; j++) {
        const start = performance.now();
        await fn();
        samples.push(performance.now() - start);
      }
    }
  }
  return [sa, sb];
}

/** Executions per second with `concurrency` requests in flight for `total` executions. */
export async function throughput(total: number, concurrency: number, fn: () => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) await fn();
    }),
  );
  return total / ((performance.now() - start) / 1000);
}

export function summary(samples: number[], perSecond: number): Summary {
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), perSecond };
}

/**
 * A row that sets two sides' latency samples side by side and judges them by the ratio of their
 * medians (ours ÷ baseline): `judge` words the target with the measured ratio and says if it is met.
 */
export function p50RatioRow(
  row: Pick<Row, "name" | "baselineName">,
  ours: number[],
  baseline: number[],
  judge: (ratio: number) => Pick<Row, "target" | "met">,
): Row {
  const ratio = percentile(ours, 50) / percentile(baseline, 50);
  return { name: row.name, ours: summary(ours, 0), baseline: summary(baseline, 0), baselineName: row.baselineName, ...judge(ratio) };
}
