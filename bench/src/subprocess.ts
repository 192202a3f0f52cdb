import { execa } from "execa";
import { runnersDir } from "@coderouter/core";
import { createRouter, type ExecutionRequestInput } from "coderouter";
import definition, { Bubblewrap, defaultSandboxPython } from "@coderouter/runtime-subprocess";
import { interleaved, p50RatioRow, percentile, summary, throughput } from "./measure.js";
import type { Row } from "./table.js";
import { sandboxCostRows, spawnSandboxed } from "./sandbox-costs.js";

// The same clean environment our children get: variables such as NODE_EXTRA_CA_CERTS slow a start
// by tens of milliseconds and would flatter every ratio.
const cleanEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin" };

async function pythonPath(): Promise<string> {
  const { stdout } = await execa(process.env.PYTHON_BIN ?? "python3", ["-c", "import sys; print(sys.executable)"]);
  return stdout.trim();
}

interface Case {
  name: string;
  request: ExecutionRequestInput;
  settings: Record<string, unknown>;
  baselineName: string;
  bare: () => Promise<unknown>;
  target: number;
  minRate?: number;
}

/**
 * Subprocess rows: a cold interpreter per execution against a bare spawn of the same interpreter;
 * Python through the warm fork-server against a cold spawn; and the same inside the bubblewrap
 * sandbox against a bare bwrap + python spawn with the same sandbox.
 */
export async function subprocessRows(rounds: (n: number) => number): Promise<Row[]> {
  const python = await pythonPath();
  const sandboxSettings = definition.settings.parse({});
  const sandboxPython = sandboxSettings.sandboxPythonBin ?? defaultSandboxPython(sandboxSettings.pythonBin);
  const sandbox = new Bubblewrap({
    bwrapBin: sandboxSettings.bwrapBin,
    pythonBin: sandboxPython,
    nodeBin: sandboxSettings.sandboxNodeBin,
    allowNetwork: false,
    diskMb: sandboxSettings.sandboxDiskMb,
    processes: sandboxSettings.sandboxProcesses,
  });
  // A sandbox as the runtime makes one, its scratch mount (taken from the spares) included.
  const bareSandbox = async () => {
    const command = await sandbox.oneShot(sandboxPython, ["-c", "1 + 1"], {}, false);
    try {
      return await spawnSandboxed(command);
    } finally {
      command.release();
    }
  };
  const cases: Case[] = [
    {
      name: "subprocess python, cold start per execution",
      request: { language: "python", code: "1 + 1", runtime: "subprocess" },
      settings: { forkServers: 0 },
      baselineName: `bare execa spawn of ${python} running the same code, clean environment`,
      bare: () => execa(python, ["-c", "1 + 1"], { extendEnv: false, env: cleanEnv }),
      target: 1.1,
    },
    {
      name: "subprocess javascript, cold start per execution",
      request: { language: "javascript", code: "1 + 1", runtime: "subprocess" },
      settings: {},
      baselineName: `bare execa spawn of ${process.execPath} running the same code, clean environment`,
      bare: () => execa(process.execPath, ["-e", "1 + 1"], { extendEnv: false, env: cleanEnv }),
      target: 1.1,
    },
    {
      name: "subprocess python through the warm fork-server",
      request: { language: "python", code: "1 + 1", runtime: "subprocess" },
      settings: {},
      baselineName: `a cold execa spawn of ${python} running the same code`,
      bare: () => execa(python, ["-c", "1 + 1"], { extendEnv: false, env: cleanEnv }),
      target: 0.35,
    },
    {
      name: "subprocess python in the bubblewrap sandbox, warm fork-server",
      request: { language: "python", code: "1 + 1", runtime: "subprocess", isolation: "sandbox" },
      settings: {},
      baselineName: `a cold bwrap + ${sandboxPython} spawn with the same sandbox`,
      bare: bareSandbox,
      target: 0.5,
      minRate: 200,
    },
  ];
  const rows: Row[] = [];
  for (const c of cases) {
    const router = createRouter({ settings: { enabledRuntimes: ["subprocess"] }, runtimeSettings: { subprocess: c.settings } });
    const ours = () => router.execute(c.request);
    for (let i = 0; i < 5; i++) await Promise.all([c.bare(), ours()]);
    await new Promise((resolve) => setTimeout(resolve, 500)); // fork-servers started by the warm-up
    const [oursSamples, bareSamples] = await interleaved(rounds(200), ours, c.bare);
    const oursRate = await throughput(rounds(400), 2, ours);
    const bareRate = await throughput(rounds(200), 2, c.bare);
    const ratio = percentile(oursSamples, 50) / percentile(bareSamples, 50);
    const rateNote = c.minRate ? `; ≥ ${c.minRate} exec/s (measured ${oursRate.toFixed(0)})` : "";
    rows.push({
      name: c.name,
      ours: summary(oursSamples, oursRate),
      baseline: summary(bareSamples, bareRate),
      baselineName: c.baselineName,
      target: `p50 ≤ ${c.target}× baseline (measured ${ratio.toFixed(2)}×)${rateNote}`,
      met: ratio <= c.target && (!c.minRate || oursRate >= c.minRate),
    });
    await router.close();
  }
  rows.push(...(await inFlightRows(rounds)));
  rows.push(await conversionRow(rounds, python));
  rows.push(...(await sandboxCostRows(rounds, sandbox, sandboxPython)));
  await sandbox.close();
  return rows;
}

/**
 * More requests than fork-servers: Python `1 + 1` through the warm pool (as shipped: 2 servers per
 * mode, growing to 4) at 4 and 8 in flight, against 2 in flight on the same router, alternating.
 */
async function inFlightRows(rounds: (n: number) => number): Promise<Row[]> {
  const router = createRouter({ settings: { enabledRuntimes: ["subprocess"] }, runtimeSettings: { subprocess: {} } });
  const run = () => router.execute({ language: "python", code: "1 + 1", runtime: "subprocess" });
  for (let i = 0; i < 10; i++) await Promise.all([run(), run()]);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const rates: Record<number, number[]> = { 2: [], 4: [], 8: [] };
  for (let round = 0; round < 3; round++) {
    for (const inFlight of [2, 4, 8]) rates[inFlight]!.push(await throughput(rounds(300), inFlight, run));
  }
  await router.close();
  const best = (inFlight: number) => Math.max(...rates[inFlight]!);
  const at = (rate: number) => ({ p50: 1000 / rate, p99: 1000 / rate, perSecond: rate });
  return [4, 8].map((inFlight) => {
    const ratio = best(inFlight) / best(2);
    return {
      name: `subprocess python through the warm fork-server pool, ${inFlight} in flight`,
      ours: at(best(inFlight)),
      baseline: at(best(2)),
      baselineName: "the same router at 2 in flight (best of 3 alternating runs each; p50/p99 columns: wall time per execution)",
      target: `≥ 0.9× the throughput at 2 in flight (measured ${ratio.toFixed(2)}×)`,
      met: ratio >= 0.9,
    };
  });
}

/** Python's result conversion (coderouter_runner.to_output) of a 1,000-object result, beside json.dumps of it. */
async function conversionRow(rounds: (n: number) => number, python: string): Promise<Row> {
  const script = `import json, sys, timeit
sys.path.insert(0, sys.argv[1])
from coderouter_runner import to_output
data = [{"id": i, "name": "row %d" % i, "tags": ["a", "b"], "nested": {"v": i * 1.5, "ok": True}} for i in range(1000)]
for name, fn in (("ours", lambda: to_output(data)), ("base", lambda: json.dumps(data))):
    print(name, *(t * 1000 for t in timeit.repeat(fn, number=1, repeat=int(sys.argv[2]))))`;
  const { stdout } = await execa(python, ["-I", "-c", script, runnersDir, String(rounds(200))], { extendEnv: false, env: cleanEnv });
  const samples = Object.fromEntries(stdout.split("\n").map((line) => [line.split(" ")[0], line.split(" ").slice(1).map(Number)]));
  const ours = samples.ours!;
  const base = samples.base!;
  return p50RatioRow(
    {
      name: "python result conversion (to_output) of a 1,000-object result, 7,000 values",
      baselineName: "json.dumps of the same data in the same interpreter",
    },
    ours,
    base,
    (ratio) => ({ target: `recorded: ${ratio.toFixed(2)}× json.dumps (was ~4 ms of path strings before issue 19)`, met: true }),
  );
}
