import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import vm from "node:vm";
import ivm from "isolated-vm";
import { loadPyodide } from "pyodide";
import { PythonShell } from "python-shell";
import { getQuickJS, shouldInterruptAfterDeadline } from "quickjs-emscripten";
import { VM } from "vm2";
import { createRouter, type Router } from "coderouter";
import { percentile } from "./measure.js";

/**
 * `npm run bench -- --peers`: coderouter beside what users pick instead, in one run, on the same
 * three workloads: `1 + 1`, a transform of 1,000 input objects passed as data, and a CPU loop of
 * ~5 ms in the language's usual engine. Each contender is timed sequentially (p50) and with 4 in
 * flight (executions per second), and says what it guarantees: a peer that is faster is usually
 * faster because it promises less.
 */
type Workload = "trivial" | "transform" | "cpu";
const WORKLOADS: Workload[] = ["trivial", "transform", "cpu"];

const ROWS = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.5, tags: ["a", "b"], active: i % 2 === 0 }));
const ROWS_JSON = JSON.stringify(ROWS);

/** The same work in each language; `rows` is the input, the value of the last expression the output. */
const JS = {
  trivial: "1 + 1",
  transform: "rows.filter((r) => r.active).map((r) => ({ id: r.id, name: r.name.toUpperCase(), total: r.price * 2, tags: r.tags.length }))",
  // ~5 ms in V8 on this machine; an interpreter (QuickJS) takes far longer for the same loop.
  cpu: "let s = 0; for (let i = 0; i < 7e5; i++) s = (s + i * 7) % 1000003; s",
};
const PY = {
  trivial: "1 + 1",
  transform: "[{'id': r['id'], 'name': r['name'].upper(), 'total': r['price'] * 2, 'tags': len(r['tags'])} for r in rows if r['active']]",
  // ~5 ms in CPython on this machine.
  cpu: "sum((i * 7) % 1000003 for i in range(75000))",
};

interface Contender {
  name: string;
  language: "javascript" | "python";
  guarantees: string;
  run(workload: Workload): Promise<unknown>;
  close?(): Promise<void> | void;
}

export async function peerTable(quick: boolean): Promise<string> {
  const python = process.env.PYTHON_BIN ?? "python3";
  const router = createRouter({ env: {}, dotenv: false, settings: { enabledRuntimes: ["isolate", "subprocess", "wasm"] } });
  const scripts = mkdtempSync(join(tmpdir(), "coderouter-peers-"));
  const contenders: Contender[] = [
    ...coderouterContenders(router),
    rawIsolatedVm(),
    vm2(),
    nodeVm(),
    await quickjs(),
    pythonShell(python, scripts),
    bareSpawn(python),
    await rawPyodide(),
  ];
  const budgetMs = quick ? 400 : 2000;
  const lines = [
    "| contender | language | what it guarantees | `1 + 1` p50 | `1 + 1` exec/s, 4 in flight | 1,000-object transform p50 | transform exec/s, 4 in flight | ~5 ms CPU loop p50 | CPU loop exec/s, 4 in flight |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  try {
    for (const contender of contenders) {
      const cells: string[] = [];
      for (const workload of WORKLOADS) {
        // Warm-up: JIT, pools, caches; a contender that cannot run the workload says why.
        for (let i = 0; i < 3; i++) await contender.run(workload);
        const sequential = await timed(budgetMs, 1, () => contender.run(workload));
        const inFlight = await timed(budgetMs, 4, () => contender.run(workload));
        cells.push(ms(percentile(sequential.latencies, 50)), inFlight.rate.toFixed(0));
      }
      lines.push(`| ${contender.name} | ${contender.language} | ${contender.guarantees} | ${cells.join(" | ")} |`);
    }
  } finally {
    for (const contender of contenders) await contender.close?.();
    await router.close();
    rmSync(scripts, { recursive: true, force: true });
  }
  return lines.join("\n");
}

function coderouterContenders(router: Router): Contender[] {
  const through = (runtime: string, language: "javascript" | "python", isolation: "process" | "sandbox") => async (workload: Workload) => {
    const code = (language === "python" ? PY : JS)[workload];
    const result = await router.execute({ language, code, runtime, isolation, inputs: workload === "transform" ? { rows: ROWS } : {} });
    if (!result.ok) throw new Error(`${runtime}: ${result.error?.message}`);
    return result.output;
  };
  return [
    {
      name: "**coderouter** isolate",
      language: "javascript",
      guarantees: "fresh context per run in a pooled V8 isolate (no host APIs); time, memory and output limits; inputs copied in as data",
      run: through("isolate", "javascript", "sandbox"),
    },
    {
      name: "**coderouter** wasm (QuickJS)",
      language: "javascript",
      guarantees: "fresh QuickJS context per run in a worker thread; time, memory and output limits; WebAssembly sandbox",
      run: through("wasm", "javascript", "sandbox"),
    },
    {
      name: "**coderouter** subprocess",
      language: "python",
      guarantees:
        "a fresh process per run, forked from a warm interpreter; time and output limits, its whole process tree ended; process isolation (bubblewrap sandbox on request)",
      run: through("subprocess", "python", "process"),
    },
    {
      name: "**coderouter** wasm (Pyodide)",
      language: "python",
      guarantees:
        "a warm interpreter in a worker thread, fresh namespace per run (a fresh interpreter at `sandbox`); time and output limits; no bridge to the host",
      run: through("wasm", "python", "process"),
    },
  ];
}

function rawIsolatedVm(): Contender {
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  return {
    name: "isolated-vm (raw)",
    language: "javascript",
    guarantees: "fresh context in a warm isolate, memory limit and timeout as used here; no console, timers, output cap or TypeScript unless you write them",
    run: async (workload) => {
      const context = await isolate.createContext();
      try {
        if (workload === "transform") await context.global.set("rows", new ivm.ExternalCopy(ROWS).copyInto());
        return await context.eval(JS[workload], { copy: true, timeout: 5000 });
      } finally {
        context.release();
      }
    },
    close: () => isolate.dispose(),
  };
}

function vm2(): Contender {
  return {
    name: "vm2",
    language: "javascript",
    guarantees: "fresh sandbox per run; a timeout for synchronous code only; no memory limit; the host's heap behind proxies (a history of escapes)",
    run: async (workload) => {
      const sandbox = new VM({ timeout: 5000, sandbox: workload === "transform" ? { rows: ROWS } : {} });
      return JSON.parse(JSON.stringify(sandbox.run(JS[workload])));
    },
  };
}

function nodeVm(): Contender {
  return {
    name: "node:vm, fresh context",
    language: "javascript",
    guarantees: "fresh context per run; a timeout for synchronous code only; no memory limit; not a security mechanism (Node's own words)",
    run: async (workload) => {
      const context = vm.createContext(workload === "transform" ? { rows: ROWS } : {});
      return JSON.parse(JSON.stringify(vm.runInContext(JS[workload], context, { timeout: 5000 })));
    },
  };
}

async function quickjs(): Promise<Contender> {
  const QuickJS = await getQuickJS();
  return {
    name: "quickjs-emscripten",
    language: "javascript",
    guarantees: "fresh runtime per run on the main thread; memory limit and interrupt deadline; WebAssembly sandbox, interpreter speed",
    run: async (workload) => {
      const runtime = QuickJS.newRuntime();
      runtime.setMemoryLimit(128 * 1024 * 1024);
      runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + 30_000));
      const context = runtime.newContext();
      try {
        if (workload === "transform") {
          const json = context.newString(ROWS_JSON);
          context.setProp(context.global, "rowsJson", json);
          json.dispose();
        }
        const prelude = workload === "transform" ? "const rows = JSON.parse(rowsJson);\n" : "";
        const result = context.unwrapResult(context.evalCode(prelude + JS[workload]));
        const value: unknown = context.dump(result);
        result.dispose();
        return value;
      } finally {
        context.dispose();
        runtime.dispose();
      }
    },
  };
}

function pythonShell(python: string, dir: string): Contender {
  const scripts = Object.fromEntries(
    WORKLOADS.map((workload) => {
      const path = join(dir, `${workload}.py`);
      writeFileSync(path, `import json, sys\nrows = json.loads(sys.stdin.readline())\nprint(json.dumps(${PY[workload]}))\n`);
      return [workload, path];
    }),
  ) as Record<Workload, string>;
  return {
    name: "python-shell",
    language: "python",
    guarantees: "a new python process per run; no time or memory limit; the host's env and files",
    run: (workload) =>
      new Promise((resolve, reject) => {
        const shell = new PythonShell(scripts[workload], { mode: "json", pythonPath: python });
        let output: unknown;
        shell.on("message", (message) => {
          output = message;
        });
        shell.send(workload === "transform" ? ROWS : []);
        shell.end((error) => (error ? reject(error) : resolve(output)));
      }),
  };
}

function bareSpawn(python: string): Contender {
  return {
    name: "bare `spawn` of python3",
    language: "python",
    guarantees: "a new process per run, inputs on stdin; no limits, no output cap; the host's env and files",
    run: (workload) =>
      new Promise((resolve, reject) => {
        const child = spawn(python, ["-c", `import json, sys\nrows = json.loads(sys.stdin.read())\nprint(json.dumps(${PY[workload]}))`]);
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString();
        });
        child.once("error", reject);
        child.once("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`python exited ${code}`))));
        child.stdin.end(workload === "transform" ? ROWS_JSON : "[]");
      }),
  };
}

async function rawPyodide(): Promise<Contender> {
  const pyodide = await loadPyodide();
  return {
    name: "Pyodide (raw, main thread)",
    language: "python",
    guarantees: "one shared interpreter on the host's event loop, a fresh namespace per run here; no time or memory limit; the `js` module reaches the host",
    run: async (workload) => {
      const globals = pyodide.toPy({ rows_json: workload === "transform" ? ROWS_JSON : "[]" });
      try {
        pyodide.runPython("import json\nrows = json.loads(rows_json)", { globals });
        return JSON.parse(pyodide.runPython(`json.dumps(${PY[workload]})`, { globals }) as string);
      } finally {
        globals.destroy();
      }
    },
  };
}

/** Runs `fn` with `concurrency` in flight for about `budgetMs` (at least 5 times): latencies and the rate. */
async function timed(budgetMs: number, concurrency: number, fn: () => Promise<unknown>): Promise<{ latencies: number[]; rate: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  const end = started + budgetMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end || latencies.length < 5) {
        const t = performance.now();
        await fn();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies, rate: latencies.length / ((performance.now() - started) / 1000) };
}

const ms = (value: number) => (value < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(value < 10 ? 2 : 1)} ms`);
