import { Sandbox } from "@e2b/code-interpreter";
import { createRouter } from "coderouter";
import { LocalE2B } from "../../test/e2b-server/server.js";
import { p50RatioRow } from "./measure.js";
import type { Row } from "./table.js";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The E2B runtime against the local E2B server, beside the raw SDK's runCode on a sandbox that is
 * already live (the least any E2B integration can do), alternating in the same run. The server
 * takes as long as E2B's to start a context (1.5 s). Requests arrive one at a time with a pause
 * between them, as a workflow's code nodes do: the pause (longer than a context's start) lets the
 * pool prepare the next context, which is what the pool is for; requests back to back each wait
 * for theirs.
 */
export async function e2bRows(rounds: (n: number) => number): Promise<Row[]> {
  const server = await new LocalE2B().start();
  const env = { ...server.env(), E2B_POOL_SIZE: "1", CODEROUTER_RUNTIMES: "e2b" };
  const router = createRouter({ env, dotenv: false });
  const live = await Sandbox.create({ apiKey: server.apiKey, apiUrl: server.url, sandboxUrl: server.url, timeoutMs: 600_000 });
  const context = await live.createCodeContext({ language: "python" });

  const trivial = { language: "python" as const, code: "1 + 1", runtime: "e2b" };
  const raw = () => live.runCode("1 + 1", { context });
  const firstLine = { language: "python" as const, code: "print('ready')", runtime: "e2b" };
  const timeToFirst = async (run: (onLine: () => void) => Promise<unknown>) => {
    const start = performance.now();
    let first = 0;
    await run(() => (first ||= performance.now() - start));
    return first;
  };
  const oursFirst = () => timeToFirst((onLine) => router.execute({ ...firstLine, onStdout: onLine }));
  const rawFirst = () => timeToFirst((onLine) => live.runCode("print('ready')", { context, onStdout: onLine }));

  // Longer than a context takes to start and receive its prelude.
  const gap = 2500;
  for (let i = 0; i < 3; i++) {
    await router.execute(trivial);
    await raw();
    await pause(gap);
  }
  const n = rounds(60);
  const samples = { ours: [] as number[], raw: [] as number[], oursFirst: [] as number[], rawFirst: [] as number[] };
  // The baseline goes first: the pool prepares the next context right after our execution, and
  // that background work must fall in the pause, not on the baseline's clock.
  for (let i = 0; i < n; i++) {
    let start = performance.now();
    await raw();
    samples.raw.push(performance.now() - start);
    start = performance.now();
    await router.execute(trivial);
    samples.ours.push(performance.now() - start);
    await pause(gap);
    samples.rawFirst.push(await rawFirst());
    samples.oursFirst.push(await oursFirst());
    await pause(gap);
  }
  const backToBack = { ours: [] as number[], raw: [] as number[] };
  for (let i = 0; i < rounds(20); i++) {
    let start = performance.now();
    await raw();
    backToBack.raw.push(performance.now() - start);
    start = performance.now();
    await router.execute(trivial);
    backToBack.ours.push(performance.now() - start);
  }
  const rows: Row[] = [
    p50RatioRow(
      { name: "e2b (local E2B server), trivial execution through the router, warm pool", baselineName: "raw SDK runCode in a live sandbox's context" },
      samples.ours,
      samples.raw,
      (ratio) => ({ target: `p50 ≤ 1.10× raw (measured ${ratio.toFixed(2)}×)`, met: ratio <= 1.1 }),
    ),
    p50RatioRow(
      { name: "e2b (local E2B server), first output line, warm pool", baselineName: "first line of raw runCode in a live sandbox" },
      samples.oursFirst,
      samples.rawFirst,
      (ratio) => ({ target: `p50 ≤ 1.2× raw (measured ${ratio.toFixed(2)}×)`, met: ratio <= 1.2 }),
    ),
    p50RatioRow(
      {
        name: "e2b (local E2B server), trivial executions back to back (each waits for its new context)",
        baselineName: "raw SDK runCode reusing one live context",
      },
      backToBack.ours,
      backToBack.raw,
      (ratio) => ({ target: `recorded, no target (${ratio.toFixed(0)}×: each execution's new context starts on its clock)`, met: true }),
    ),
  ];
  await live.kill();
  await router.close();
  await server.close();
  return rows;
}
