import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { NormalizedRequest } from "@coderouter/core";
import definition, { type SubprocessRuntime } from "../src/index.js";
import { modulesToWarm } from "../src/fork-server.js";

const runtimes: SubprocessRuntime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

function create(overrides: Record<string, unknown> = {}): SubprocessRuntime {
  const runtime = definition.create(definition.settings.parse({ forkServers: 1, ...overrides }), {
    defaultTimeoutMs: 30_000,
    maxOutputBytes: 1 << 20,
  }) as SubprocessRuntime;
  runtimes.push(runtime);
  return runtime;
}

const python = (code: string, extra: Partial<NormalizedRequest> = {}) =>
  ({ language: "python", code, inputs: {}, timeoutMs: 10_000, isolation: "none", maxOutputBytes: 1 << 20, ...extra }) as NormalizedRequest;

/**
 * This test process's own plain fork-servers (other test files run theirs in parallel): each runs
 * in a PID namespace of its own, so its parent is the bwrap we started, or us where there is none.
 */
function serverPids(): number[] {
  const processes = execFileSync("ps", ["-eo", "pid,ppid,args"], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .map(([pid, ppid, ...args]) => ({ pid: Number(pid), ppid: Number(ppid), args }));
  const parentOf = new Map(processes.map((p) => [p.pid, p.ppid]));
  return processes
    .filter(({ args }) => args.join(" ").includes("coderouter_forkserver.main()") && !args[0]!.includes("bwrap"))
    .filter(({ ppid }) => ppid === process.pid || parentOf.get(ppid) === process.pid)
    .map(({ pid }) => pid);
}

/** Runs until an execution is served by a warm fork-server: its parent is the server, pid 1 of the namespace. */
async function warmUp(runtime: SubprocessRuntime, extra: Partial<NormalizedRequest> = {}): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const result = await runtime.execute(python("import os\nos.getppid()", extra));
    if (result.output === 1 || serverPids().includes(result.output as number)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("no fork-server became ready");
}

describe.each(["none", "sandbox"] as const)("fork-server (isolation %s)", (isolation) => {
  it("gives every execution a fresh process: no module, global or file state survives", async () => {
    const runtime = create();
    await warmUp(runtime, { isolation });
    const first = await runtime.execute(python("import json, os\njson.tampered = True\nopen('left.txt', 'w').write('x')\nos.getpid()", { isolation }));
    const second = await runtime.execute(python("import json, os\n[hasattr(json, 'tampered'), os.listdir('.'), os.getpid()]", { isolation }));
    expect(first.ok).toBe(true);
    const [tampered, files] = second.output as [boolean, string[], number];
    expect(tampered).toBe(false);
    expect(files).toEqual([]);
  });

  it("gives each execution its working folder as HOME and TMPDIR, and only its own request's variables", async () => {
    const runtime = create();
    await warmUp(runtime, { isolation });
    const read = "import os\n[os.getcwd() == os.environ['HOME'] == os.environ['TMPDIR'], os.environ.get('GREETING'), os.environ['LANG']]";
    const plain = await runtime.execute(python(read, { isolation }));
    const greeted = await runtime.execute(python(read, { isolation, env: { GREETING: "hello" } }));
    const after = await runtime.execute(python(read, { isolation }));
    expect([plain.output, greeted.output, after.output]).toEqual([
      [true, null, "C.UTF-8"],
      [true, "hello", "C.UTF-8"],
      [true, null, "C.UTF-8"],
    ]);
  });

  it("takes asyncio in once a request uses it, so later children find it loaded, and nothing else of that request", async () => {
    const runtime = create();
    await warmUp(runtime, { isolation });
    const loaded = "import sys\n['asyncio' in sys.modules, globals().get('left')]";
    const before = await runtime.execute(python(loaded, { isolation }));
    const user = await runtime.execute(python("left = 'behind'\nawait __import__('asyncio').sleep(0)\n1", { isolation }));
    const after = await runtime.execute(python(loaded, { isolation }));
    expect([before.output, user.output, after.output]).toEqual([[false, null], 1, [true, null]]);
  });

  it("gives every child its own random state, though none is seeded in the server", async () => {
    const runtime = create();
    await warmUp(runtime, { isolation });
    const draws = await Promise.all([1, 2, 3].map(() => runtime.execute(python("import random\nrandom.random()", { isolation }))));
    expect(new Set(draws.map((d) => d.output)).size).toBe(3);
  });

  it("streams output and keeps the two streams apart, with no trace of the server's fences", async () => {
    const runtime = create();
    await warmUp(runtime, { isolation });
    const seen: string[] = [];
    const result = await runtime.execute(
      python("import sys\nfor i in range(3):\n    print('out', i)\n    print('err', i, file=sys.stderr)\nsys.stdout.write('no newline')", {
        isolation,
        onStdout: (text) => seen.push(text),
      }),
    );
    expect(result.stdout).toBe("out 0\nout 1\nout 2\nno newline");
    expect(result.stderr).toBe("err 0\nerr 1\nerr 2\n");
    expect(seen.join("")).toBe(result.stdout);
  });
});

describe("fork-server failures", () => {
  it("replaces a fork-server that died between executions", async () => {
    const runtime = create();
    await warmUp(runtime);
    for (const pid of serverPids()) process.kill(pid, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = await runtime.execute(python("6 * 7"));
    expect(after.output).toBe(42);
    await warmUp(runtime);
  });

  it("reports a fork-server that dies mid-execution as an infrastructure failure, not a code failure", async () => {
    const runtime = create();
    await warmUp(runtime);
    const pending = runtime.execute(python("import time\ntime.sleep(5)"));
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const pid of serverPids()) process.kill(pid, "SIGKILL");
    await expect(pending).rejects.toThrow(/worker died/);
    expect((await runtime.execute(python("1 + 1"))).output).toBe(2);
  });
});

describe("workers and their host", () => {
  it("end when the host process is killed without a chance to clean up", async () => {
    const { spawn } = await import("node:child_process");
    const router = new URL("../../../router/dist/index.js", import.meta.url).href;
    const host = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `
      import { createRouter } from ${JSON.stringify(router)};
      const r = createRouter({ env: {} });
      const session = await r.openSession({ language: "python" });
      for (let i = 0; i < 3; i++) await r.execute({ language: "python", code: "1" });
      await new Promise((resolve) => setTimeout(resolve, 500));
      session.execute("while True: pass");
      console.log("ready");
      await new Promise(() => {});
    `,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve) => host.stdout.on("data", (chunk) => String(chunk).includes("ready") && resolve()));
    const workersOf = (pid: number) =>
      execFileSync("ps", ["-eo", "pid,ppid,args"], { encoding: "utf8" })
        .split("\n")
        .map((line) => line.trim().split(/\s+/))
        .filter(([, ppid, ...args]) => Number(ppid) === pid && /coderouter_(session|forkserver)/.test(args.join(" ")))
        .map(([pid]) => Number(pid));
    const workers = workersOf(host.pid!);
    expect(workers.length).toBeGreaterThanOrEqual(2);
    host.kill("SIGKILL");
    const alive = () =>
      workers.filter((pid) => {
        try {
          process.kill(pid, 0);
          return !execFileSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" }).includes("Z");
        } catch {
          return false;
        }
      });
    for (let i = 0; i < 40 && alive().length; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(alive()).toEqual([]);
  });
});

describe("closing the runtime", () => {
  it("has released every sandboxed fork-server's scratch mount by the time close() resolves", async () => {
    const runtime = create();
    runtimes.splice(runtimes.indexOf(runtime), 1);
    await warmUp(runtime, { isolation: "sandbox" });
    const ours = () =>
      readFileSync("/proc/mounts", "utf8")
        .split("\n")
        .filter((line) => line.includes(`/coderouter-sandbox-${process.pid}-`)).length;
    expect(ours()).toBeGreaterThan(0);
    await runtime.close();
    expect(ours()).toBe(0);
  });
});

describe("modulesToWarm", () => {
  it("names the left-out modules Python code imports, top-level await as asyncio, and nothing in comments or strings", () => {
    expect(modulesToWarm("import os, random\nfrom statistics import mean")).toEqual(["random", "statistics"]);
    expect(modulesToWarm("x = await fetch()")).toEqual(["asyncio"]);
    expect(modulesToWarm("# import asyncio\nprint('import random')\nimport asyncio_extra")).toEqual([]);
  });
});
