import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { createRouter, ExecutionResultSchema, RoutingDecisionSchema } from "coderouter";
import { startServer, type RunningServer, type ServerSettings } from "../src/index.js";

const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(settings: Partial<ServerSettings> = {}): Promise<RunningServer> {
  const server = await startServer(createRouter({ env: {} }), { port: 0, ...settings }, {});
  servers.push(server);
  return server;
}

const post = (server: RunningServer, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

describe("HTTP API", () => {
  it("runs code: POST /v1/execute answers an ExecutionResult", async () => {
    const server = await serve();
    const response = await post(server, "/v1/execute", { language: "python", code: "print('hi')\nsum(xs)", inputs: { xs: [1, 2, 3] } });
    expect(response.status).toBe(200);
    const result = ExecutionResultSchema.parse(await response.json());
    expect(result).toMatchObject({ ok: true, output: 6, stdout: "hi\n", runtime: "subprocess" });
  });

  it("answers a failing snippet with 200 and ok: false, never a server error", async () => {
    const server = await serve();
    const result = await (await post(server, "/v1/execute", { language: "javascript", code: "null.x" })).json();
    expect(result).toMatchObject({ ok: false, error: { kind: "runtime", name: "TypeError" } });
  });

  it("runs a bash script: exit status, streams, inputs as variables, output from fd 3; a reserved input name is a 400", async () => {
    const server = await serve();
    const script = 'echo "hello $name"\necho warn >&2\nprintf \'{"n": %d}\' "$count" >&3\nexit 4';
    const result = ExecutionResultSchema.parse(
      await (await post(server, "/v1/execute", { language: "bash", code: script, inputs: { name: "it's me", count: 3 } })).json(),
    );
    expect(result).toMatchObject({ ok: false, exitCode: 4, stdout: "hello it's me\n", stderr: "warn\n", error: { name: "ExitStatus" }, runtime: "subprocess" });
    const done = ExecutionResultSchema.parse(
      await (await post(server, "/api/e2b/execute", { language: "bash", code: script.replace("exit 4", "true"), inputs: { name: "x", count: 1 } })).json(),
    );
    expect(done).toMatchObject({ ok: true, exitCode: 0, output: { n: 1 } });
    const refused = await post(server, "/v1/execute", { language: "bash", code: "true", inputs: { PATH: "/tmp" } });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toMatch(/input \\"PATH\\" cannot be a bash variable/);
  });

  it("streams stdout and stderr as NDJSON events, then the result", async () => {
    const server = await serve();
    const response = await post(
      server,
      "/v1/execute",
      { language: "javascript", code: "console.log('a')\nawait new Promise((r) => setTimeout(r, 30))\nconsole.error('b')\n42" },
      { accept: "application/x-ndjson" },
    );
    expect(response.headers.get("content-type")).toBe("application/x-ndjson");
    const events = (await response.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events.slice(0, 2)).toEqual([
      { type: "stdout", data: "a\n" },
      { type: "stderr", data: "b\n" },
    ]);
    expect(events[2]).toMatchObject({ type: "result", result: { ok: true, output: 42 } });
  });

  it("explains without running, lists runtimes, serves OpenAPI and health", async () => {
    const server = await serve();
    const decision = RoutingDecisionSchema.parse(await (await post(server, "/v1/explain", { language: "python", code: "1" })).json());
    expect(decision.selected).toBe("subprocess");
    const runtimes = (await (await fetch(`${server.url}/v1/runtimes`)).json()) as { runtimes: { id: string }[] };
    expect(runtimes.runtimes.map((r) => r.id).sort()).toEqual(["bacalhau", "e2b", "isolate", "subprocess", "wasm"]);
    const openapi = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toContain("/v1/execute");
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it("answers the seed's /api/e2b/execute route like /v1/execute; an unknown session is a 404", async () => {
    const server = await serve();
    const result = await (await post(server, "/api/e2b/execute", { code: "print('Hello from E2B')", language: "python" })).json();
    expect(result).toMatchObject({ ok: true, stdout: "Hello from E2B\n" });
    const unknown = await post(server, "/api/e2b/execute", { session_id: "abc-123", code: "1", language: "python" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { kind: string } }).error.kind).toBe("session_closed");
  });

  it.each([
    ["an invalid request, with the zod issue paths", { language: "cobol", code: 1 }, 400, ["code", "language"]],
    ["a body that is not JSON", "{nope", 400, []],
    ["a runtime that cannot take the request", { language: "python", code: "1", runtime: "isolate" }, 503, undefined],
  ])("refuses %s", async (_name, body, status, paths) => {
    const server = await serve();
    const response = await post(server, "/v1/execute", body);
    expect(response.status).toBe(status);
    const answer = (await response.json()) as { error: { kind: string; issues?: { path: string }[] } };
    if (paths) expect(answer.error.issues!.map((i) => i.path).sort()).toEqual(paths);
  });

  it("refuses a body over the limit with 413", async () => {
    const server = await serve({ bodyLimitBytes: 2048 });
    const response = await post(server, "/v1/execute", { language: "python", code: "1", inputs: { big: "x".repeat(4096) } });
    expect(response.status).toBe(413);
  });

  it("counts executions in /metrics by runtime and outcome", async () => {
    const server = await serve();
    await post(server, "/v1/execute", { language: "python", code: "1" });
    await post(server, "/v1/execute", { language: "python", code: "raise ValueError()" });
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain('coderouter_executions_total{runtime="subprocess",outcome="ok"} 1');
    expect(text).toContain('coderouter_executions_total{runtime="subprocess",outcome="runtime"} 1');
    expect(text).toMatch(/coderouter_execution_duration_seconds_count\{runtime="subprocess"\} 2/);
    expect(text).toMatch(/coderouter_pool_size\{runtime="subprocess",pool="fork_servers_idle"\} \d/);
  });
});

describe("safe by default", () => {
  it("refuses to listen beyond loopback without a token", async () => {
    await expect(startServer(createRouter({ env: {} }), { host: "0.0.0.0", port: 0 }, {})).rejects.toThrow(/CODEROUTER_API_TOKEN is required/);
  });

  it("requires the bearer token when one is set, except for /healthz", async () => {
    const server = await serve({ token: "s3cret-token" });
    expect((await post(server, "/v1/execute", { language: "python", code: "1" })).status).toBe(401);
    expect((await post(server, "/v1/execute", { language: "python", code: "1" }, { authorization: "Bearer wrong-token!" })).status).toBe(401);
    expect((await post(server, "/v1/execute", { language: "python", code: "1" }, { authorization: "Bearer s3cret-token" })).status).toBe(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it("answers 429 with Retry-After when running and queued work is full", async () => {
    const server = await serve({ concurrency: 1, queue: 0 });
    const slow = post(server, "/v1/execute", { language: "python", code: "import time\ntime.sleep(1)" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const refused = await post(server, "/v1/execute", { language: "python", code: "1" });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect((await slow).status).toBe(200);
  });

  it("stops a client's execution when the client goes away", async () => {
    const server = await serve();
    const marker = `${88_000 + Math.floor(Math.random() * 300)}.5`;
    const controller = new AbortController();
    const request = fetch(`${server.url}/v1/execute`, {
      method: "POST",
      signal: controller.signal,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ language: "python", code: `import subprocess, time\nsubprocess.Popen(["sleep", "${marker}"])\ntime.sleep(30)` }),
    }).catch(() => undefined);
    for (let i = 0; i < 100 && !processesWith(marker).length; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(processesWith(marker)).toHaveLength(1);
    controller.abort();
    await request;
    for (let i = 0; i < 60 && processesWith(marker).length; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(processesWith(marker)).toEqual([]);
  });

  it("shuts down gracefully: running work finishes, new work is refused, nothing is left running", async () => {
    const server = await serve({ shutdownTimeoutMs: 5000 });
    // The runtimes are loaded and probed first (as the default isolation's first look does), so the
    // shutdown deadline times the execution alone, even on a loaded machine.
    await fetch(`${server.url}/v1/runtimes`);
    expect(((await (await post(server, "/v1/execute", { language: "python", code: "1", isolation: "process" })).json()) as { ok?: boolean }).ok).toBe(true);
    const running = post(server, "/v1/execute", { language: "python", code: "import time\ntime.sleep(0.5)\n'finished'", isolation: "process" });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const closing = servers.pop()!.close();
    const result = await (await running).json();
    expect(result).toMatchObject({ ok: true, output: "finished" });
    await closing;
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});

describe("load", () => {
  it("answers 2,000 requests, 50 at a time, each exactly once, and leaves no process behind", async () => {
    const server = await serve({ concurrency: 50, queue: 100 });
    const answers = new Map<number, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < 2000) {
          const id = next++;
          const response = await post(server, "/v1/execute", { language: "javascript", code: "inputs.id * 2", inputs: { id } });
          const result = (await response.json()) as { output: number };
          answers.set(id, (answers.get(id) ?? 0) + 1);
          expect(result.output).toBe(id * 2);
        }
      }),
    );
    expect(answers.size).toBe(2000);
    expect([...answers.values()].every((n) => n === 1)).toBe(true);
    await servers.pop()!.close();
    expect(childProcessesOf(process.pid).filter((args) => /python|node_runner|bwrap/.test(args))).toEqual([]);
    // A generous limit: this checks that every answer arrives exactly once, not how fast (a shared
    // 2-core machine under other load needs well over a minute for it).
  }, 240_000);
});

function processesWith(marker: string): string[] {
  return execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(marker));
}

function childProcessesOf(pid: number): string[] {
  return execFileSync("ps", ["-eo", "ppid,args"], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([ppid]) => Number(ppid) === pid)
    .map(([, ...args]) => args.join(" "));
}

describe("garbage from a worker", () => {
  it("never takes the service down: /healthz keeps answering and the next execution runs", async () => {
    const server = await serve();
    // A tenant writes garbage, huge lines and a fake result where the runner reports to the host.
    const garbage = [
      "import os\nfor fd in (1, 2, 3):\n    try:\n        os.write(fd, b'\\xff\\xfe{{{not json\\n' * 1000 + b'{\"output\": 1' * 10000)\n    except OSError:\n        pass\nos._exit(0)",
      'import os\ntry:\n    os.write(3, b\'{"type": "result", "result": {"ok": true, "output": "forged"}}\\n\')\nexcept OSError:\n    pass\n\'real\'',
    ];
    for (const code of garbage) {
      const answer = await post(server, "/v1/execute", { language: "python", code, isolation: "sandbox" });
      expect([200, 503]).toContain(answer.status);
      expect(((await answer.json()) as { output?: unknown }).output).not.toBe("forged");
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    }
    const next = await (await post(server, "/v1/execute", { language: "python", code: "6 * 7", isolation: "sandbox" })).json();
    expect(next).toMatchObject({ ok: true, output: 42 });
  });
});
