import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecutionResultSchema, RoutingDecisionSchema } from "@coderouter/core";
import { LocalBacalhau } from "./bacalhau-server/server.js";
import { LocalE2B } from "./e2b-server/server.js";
import wabtInit from "wabt";

/** The installed `coderouter` command, the one `npx coderouter` runs. */
const BIN = fileURLToPath(new URL("../node_modules/.bin/coderouter", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "coderouter-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.stdin ?? "");
  });
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe("coderouter run", () => {
  it("runs a Python file, prints its output on stdout and a status line on stderr", async () => {
    const path = file("hello.py", 'print("hello", name)\n{"greeting": f"hi {name}"}\n');
    const run = await cli(["run", path, "--inputs", '{"name": "Ada"}']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("hello Ada\n");
    expect(JSON.parse(run.stdout.slice(run.stdout.indexOf("{")))).toEqual({ greeting: "hi Ada" });
    expect(run.stderr).toMatch(/ok · subprocess · \d+ ms · auto: /);
  });

  it("prints exactly one ExecutionResult with --json", async () => {
    const path = file("sum.ts", "const xs: number[] = [1, 2, 3]\nconsole.log('summing')\nxs.reduce((a, b) => a + b, 0)\n");
    const run = await cli(["run", path, "--json"]);
    expect(run.code).toBe(0);
    const result = ExecutionResultSchema.parse(JSON.parse(run.stdout));
    expect(result).toMatchObject({ ok: true, language: "typescript", output: 6, stdout: "summing\n" });
    expect(result.metadata.routing.candidates).toHaveLength(5);
  });

  it("reads code from stdin with - and --language", async () => {
    const run = await cli(["run", "-", "--language", "javascript", "--json"], { stdin: "return 6 * 7" });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).output).toBe(42);
  });

  it("runs a .sh file as bash, its language taken from the extension: exit 1 for a non-zero status, which --json carries", async () => {
    const path = file("greet.sh", 'echo "hello $name"\nprintf \'{"shell": "%s"}\' "$BASH_VERSINFO" >&3\n');
    const run = await cli(["run", path, "--inputs", '{"name": "Ada"}']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("hello Ada\n");
    expect(run.stdout).toMatch(/"shell": "\d+"/);
    const failing = await cli(["run", "-", "--language", "bash", "--json"], { stdin: "echo partial\nexit 9\n" });
    expect(failing.code).toBe(1);
    expect(JSON.parse(failing.stdout)).toMatchObject({ ok: false, exitCode: 9, stdout: "partial\n", error: { name: "ExitStatus" } });
  });

  it("exits 1 when the code fails, with the traceback on stderr", async () => {
    const path = file("fail.py", "x = 1\nraise RuntimeError('nope')\n");
    const run = await cli(["run", path]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/line 2[\s\S]*RuntimeError: nope/);
    expect(run.stderr).toMatch(/failed \(runtime\)/);
  });

  it("exits 1 with kind timeout when --timeout is exceeded", async () => {
    const run = await cli(["run", "-", "-l", "python", "--timeout", "500", "--json"], { stdin: "while True: pass" });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout).error.kind).toBe("timeout");
  });

  it.each([
    [["run", "--frobnicate"], /Unknown option/],
    [["run", "-"], /--language is required/],
    [["run", "code.rb"], /cannot read|cannot tell the language/],
    [["run", "-", "-l", "python", "--inputs", "{nope"], /--inputs is not valid JSON/],
    [["run", "-", "-l", "python", "--inputs", "[1]"], /--inputs must be a JSON object/],
    [["run", "-", "-l", "python", "--timeout", "soon"], /--timeout must be a positive whole number/],
    [["run", "-", "-l", "cobol"], /language/],
    [["launch"], /unknown command "launch"/],
  ])("exits 2 on bad usage: %j", async (args, message) => {
    const run = await cli(args, { stdin: "1" });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it("exits 2 naming the variable when the configuration is invalid", async () => {
    const run = await cli(["run", "-", "-l", "python"], { stdin: "1", env: { E2B_TIMEOUT_MS: "soon" } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/E2B_TIMEOUT_MS/);
  });

  it("exits 3 when no runtime can take the request", async () => {
    const run = await cli(["run", "-", "-l", "python"], { stdin: "1", env: { CODEROUTER_RUNTIMES: "isolate" } });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/no runtime can take this python request/);
  });

  it("runs code that asks for sandbox isolation inside bubblewrap", async () => {
    const run = await cli(["run", "-", "-l", "python", "--isolation", "sandbox", "--json"], {
      stdin: "import os, socket\n[os.getcwd(), os.path.exists('/root'), socket.gethostname()]",
    });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).output).toEqual(["/work", false, "sandbox"]);
  });

  it("never passes the host's secrets to the code", async () => {
    const run = await cli(["run", "-", "-l", "python", "--json"], {
      stdin: "import os\nsorted(os.environ)",
      env: { E2B_API_KEY: "e2b_cli_secret" },
    });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).output).not.toContain("E2B_API_KEY");
    expect(run.stdout).not.toContain("e2b_cli_secret");
  });

  it("leaves no child process behind when interrupted with Ctrl-C", async () => {
    const marker = `${87_000 + Math.floor(Math.random() * 300)}.5`;
    const child = spawn(process.execPath, [BIN, "run", "-", "-l", "python"], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.end(`import subprocess\nsubprocess.Popen(["sleep", "${marker}"])\nprint("started", flush=True)\nwhile True: pass`);
    await new Promise<void>((resolve) => child.stdout.on("data", (chunk) => String(chunk).includes("started") && resolve()));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    // SIGKILL is delivered at once but a loaded machine may take a moment to reap: poll briefly.
    const running = () =>
      execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
        .split("\n")
        .filter((l) => l.includes(marker));
    for (let i = 0; i < 40 && running().length; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(running()).toEqual([]);
  });
});

describe("coderouter explain", () => {
  it("shows every runtime with its score or the reason it was ruled out", async () => {
    const path = file("explain.py", "print(1)\n");
    const run = await cli(["explain", path]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/selected:\s+subprocess/);
    for (const id of ["isolate", "subprocess", "wasm", "e2b", "bacalhau"]) expect(run.stdout).toMatch(new RegExp(`\\b${id}\\b`));
    const json = await cli(["explain", path, "--json", "--isolation", "vm"]);
    const decision = RoutingDecisionSchema.parse(JSON.parse(json.stdout));
    expect(decision.selected).toBeNull();
    expect(decision.candidates.find((c) => c.runtime === "subprocess")?.reason).toMatch(/"sandbox" isolation, the request needs at least "vm"/);
    expect(json.code).toBe(3);
  });
});

describe("coderouter explain with a code node's hints", () => {
  it("takes --package (repeatable) and --expected-duration, and refuses a duration that is not a number", async () => {
    const path = file("hints.py", "import requests\n");
    const json = await cli(["explain", path, "--json", "--package", "requests==2.32.3", "--package", "rich", "--expected-duration", "60000"]);
    const decision = RoutingDecisionSchema.parse(JSON.parse(json.stdout));
    expect(decision.candidates.find((c) => c.runtime === "subprocess")?.reason).toMatch(
      /cannot install packages, the request asks for requests==2\.32\.3, rich/,
    );
    const bad = await cli(["explain", path, "--expected-duration", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--expected-duration must be a positive whole number of milliseconds, got "soon"/);
  });
});

describe("coderouter serve", () => {
  it("serves the HTTP API and, on SIGTERM, lets running work finish, then exits leaving nothing behind", async () => {
    const child = spawn(process.execPath, [BIN, "serve", "--port", "0"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    const url = await new Promise<string>((resolve) => {
      let text = "";
      child.stderr.on("data", (chunk) => {
        text += chunk;
        const match = text.match(/listening on (http:\/\/\S+)/);
        if (match) resolve(match[1]!);
      });
    });
    const marker = `${89_000 + Math.floor(Math.random() * 300)}.5`;
    const running = fetch(`${url}/v1/execute`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ language: "python", code: `import subprocess, time\nsubprocess.Popen(["sleep", "${marker}"])\ntime.sleep(0.5)\n"finished"` }),
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    child.kill("SIGTERM");
    expect(((await (await running).json()) as { output: string }).output).toBe("finished");
    expect(await exited).toBe(0);
    const left = () =>
      execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
        .split("\n")
        .filter((l) => l.includes(marker) || l.includes("coderouter_forkserver"));
    for (let i = 0; i < 40 && left().length; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(left().filter((l) => l.includes(marker))).toEqual([]);
  });
});

describe("coderouter doctor", () => {
  it("lists every runtime, available or not, why, and how to fix it", async () => {
    const run = await cli(["doctor", "--json"]);
    expect(run.code).toBe(0);
    const statuses = JSON.parse(run.stdout) as { id: string; available: boolean; reason: string; fix?: string }[];
    expect(statuses.map((s) => s.id).sort()).toEqual(["bacalhau", "e2b", "isolate", "subprocess", "wasm"]);
    expect(statuses.find((s) => s.id === "subprocess")).toMatchObject({ available: true, reason: expect.stringMatching(/python 3\./) });
    for (const s of statuses.filter((s) => !s.available)) expect(s.fix).toBeTruthy();
    const text = await cli(["doctor"]);
    expect(text.stdout).toMatch(/✓ subprocess/);
  });
});

describe("cloud runtimes through the CLI, against the local E2B and Bacalhau", () => {
  const e2b = new LocalE2B();
  const bacalhau = new LocalBacalhau();
  beforeAll(async () => {
    await Promise.all([e2b.start(), bacalhau.start()]);
  });
  afterAll(async () => {
    await Promise.all([e2b.close(), bacalhau.close()]);
  });
  const env = () => ({ ...e2b.env(), ...bacalhau.env() });

  it("doctor reports both ready, and never prints the E2B key", async () => {
    const run = await cli(["doctor", "--json"], { env: env() });
    const statuses = JSON.parse(run.stdout) as { id: string; available: boolean; reason: string }[];
    expect(statuses.find((s) => s.id === "e2b")).toMatchObject({ available: true, reason: expect.stringContaining("ready") });
    expect(statuses.find((s) => s.id === "bacalhau")).toMatchObject({ available: true, reason: expect.stringContaining("alive") });
    expect(run.stdout + run.stderr).not.toContain(e2b.apiKey);
  });

  it("doctor --probe bacalhau runs a tiny job through the whole path, and says why when it cannot", async () => {
    const run = await cli(["doctor", "--probe", "bacalhau"], { env: env() });
    expect(run.stdout).toMatch(/✓ probe bacalhau: ran python 3\.\d+\.\d+ in [\d.]+ s, started in [\d.]+ s/);
    expect(run.code).toBe(0);
    const broken = await cli(["doctor", "--probe", "bacalhau", "--json"], { env: { ...env(), BACALHAU_CPU: "64" } });
    const report = JSON.parse(broken.stdout) as { probe: { ok: boolean; detail: string } };
    expect(report.probe).toMatchObject({ ok: false, detail: expect.stringMatching(/not enough nodes to run job/) });
    expect(broken.code).toBe(1);
  });

  it.each(["e2b", "bacalhau"])("runs a file with --runtime %s and kills what it created", async (runtime) => {
    const path = file(`cloud-${runtime}.py`, "print('hi from', inputs['where'])\n6 * 7\n");
    const run = await cli(["run", path, "--runtime", runtime, "--inputs", JSON.stringify({ where: runtime }), "--json"], { env: env() });
    const result = ExecutionResultSchema.parse(JSON.parse(run.stdout));
    expect(result).toMatchObject({ ok: true, runtime, output: 42, stdout: `hi from ${runtime}\n` });
    expect(run.code).toBe(0);
    expect(e2b.live()).toEqual([]);
    expect(bacalhau.active()).toEqual([]);
  });

  it("refuses a bad E2B_LANGUAGES in one line naming the variable and what it accepts, without a stack trace", async () => {
    const run = await cli(["run", "-", "-l", "python"], { stdin: "1", env: { ...env(), E2B_LANGUAGES: "python,wasm" } });
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split("\n")).toEqual([
      'coderouter: invalid E2B_LANGUAGES (got "python,wasm"): each entry must be one of: python, javascript, typescript, bash',
    ]);
  });

  it("ends at once after an E2B run that timed out, with no request timer of the SDK left pending", async () => {
    const path = file("cloud-loop.py", "while True: pass\n");
    const run = cli(["run", path, "--runtime", "e2b", "--timeout", "1000", "--json"], { env: env() });
    // The SDK's 30 s request timer kept the process alive after such a run; the CLI must not wait for it.
    const deadline = new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 20_000).unref());
    const ended = await Promise.race([run, deadline]);
    expect(ended).not.toBe("hung");
    expect(JSON.parse((ended as Run).stdout).error.kind).toBe("timeout");
    expect(e2b.live()).toEqual([]);
  }, 30_000);
});

describe("the WebAssembly runtime through the CLI", () => {
  it("runs Python with --runtime wasmedge (an alias of wasm) in Pyodide", async () => {
    const path = file("in-wasm.py", "import sys\nprint(sys.platform)\nsum(inputs['xs'])\n");
    const run = await cli(["run", path, "--runtime", "wasmedge", "--inputs", '{"xs": [1, 2, 3]}', "--json"]);
    const result = ExecutionResultSchema.parse(JSON.parse(run.stdout));
    expect(result).toMatchObject({ ok: true, runtime: "wasm", output: 6, stdout: "emscripten\n" });
    expect(run.code).toBe(0);
  }, 60_000);
});

describe("WASI modules through the CLI", () => {
  it("runs a .wasm file, its language taken from the extension", async () => {
    const wabt = await wabtInit();
    const wat = `(module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 64) "from wasi\\n")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 64))
        (i32.store (i32.const 4) (i32.const 10))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;
    const path = join(dir, "hello.wasm");
    writeFileSync(path, Buffer.from(wabt.parseWat("hello.wat", wat).toBinary({}).buffer));
    const run = await cli(["run", path, "--json"]);
    const result = ExecutionResultSchema.parse(JSON.parse(run.stdout));
    expect(result).toMatchObject({ ok: true, runtime: "wasm", language: "wasm", stdout: "from wasi\n", output: 0 });
  });
});
