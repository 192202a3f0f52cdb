import { normalizedRequest as request } from "@coderouter/conformance";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createRouter, type Router } from "coderouter";
import { readSettings } from "@coderouter/core";
import { LocalE2B, runtimeFor } from "./local.js";
import { E2B_ENV, E2BRuntime, E2BSettingsSchema } from "../src/index.js";

/** How the cell of an execution (not a context's prelude) calls the wrapper. */
const RUN_CALL = "__coderouter_run(";

// Contexts start faster than on E2B (1.5 s), so the many tests here stay quick.
const server = new LocalE2B({ contextDelayMs: 50 });
const opened: E2BRuntime[] = [];
const routers: Router[] = [];
beforeAll(() => server.start());
afterAll(() => server.close());

/** Every test ends with each sandbox it created killed, by its runtime or router. */
afterEach(async () => {
  for (const runtime of opened.splice(0)) {
    await runtime.close();
    const { created, killed, orphansKilled } = runtime.counts();
    expect(killed + orphansKilled).toBeGreaterThanOrEqual(created);
  }
  for (const router of routers.splice(0)) await router.close();
  Object.assign(server.faults, { createStatus: undefined, createDelayMs: undefined, dropStream: undefined, hangExecution: undefined });
  expect(server.live()).toEqual([]);
});

function runtime(overrides: Parameters<typeof runtimeFor>[1] = {}): E2BRuntime {
  const r = runtimeFor(server, overrides);
  opened.push(r);
  return r;
}

function router(env: Record<string, string> = {}): Router {
  const r = createRouter({ env: { ...server.env(), ...env }, dotenv: false });
  routers.push(r);
  return r;
}

describe("configuration and availability", () => {
  it("is off without a key, and says how to turn it on", async () => {
    const { E2B_API_KEY: _key, ...withoutKey } = server.env();
    const r = new E2BRuntime(readSettings(E2BSettingsSchema, E2B_ENV, withoutKey));
    expect(await r.availability()).toMatchObject({ available: false, reason: "no E2B_API_KEY is set", fix: expect.stringContaining("E2B_API_KEY") });
  });

  it("is off when E2B_ENABLED=false even with a key", async () => {
    expect(await runtimeFor(server, { enabled: false }).availability()).toMatchObject({
      available: false,
      reason: expect.stringContaining("E2B_ENABLED=false"),
    });
  });

  it("is ready when the service answers, and unreachable (key never shown) when the key is refused", async () => {
    expect(await runtime().availability()).toMatchObject({ available: true, reason: expect.stringContaining("ready") });
    const wrongKey = "e2b_0123456789abcdef0123456789abcdef";
    const refused = await runtime({ apiKey: wrongKey }).availability();
    expect(refused).toMatchObject({ available: false, fix: "check E2B_API_KEY" });
    expect(JSON.stringify(refused)).not.toContain(wrongKey);
  });

  it("never shows the key: not in doctor's report, an explanation or a result", async () => {
    const r = router();
    const seen = JSON.stringify([
      await r.runtimes(),
      await r.explain({ language: "python", code: "1", runtime: "e2b" }),
      await r.execute({ language: "python", code: "import os\ndict(os.environ)", runtime: "e2b" }),
    ]);
    expect(seen).toContain("e2b");
    expect(seen).not.toContain(server.apiKey);
  });

  it("is ruled out by the router for languages E2B_LANGUAGES leaves out", async () => {
    const decision = await router({ E2B_LANGUAGES: "python" }).explain({ language: "javascript", code: "1", runtime: "e2b" });
    expect(decision.selected).toBeNull();
    expect(decision.reason).toMatch(/does not run javascript/);
  });
});

describe("executions", () => {
  it("runs through the router with a sandbox id and a cost estimate", async () => {
    const result = await router().execute({
      language: "python",
      code: "import sys\nprint('hi')\nsum(inputs['xs'])",
      inputs: { xs: [1, 2, 3] },
      runtime: "e2b",
    });
    expect(result, JSON.stringify(result.error)).toMatchObject({ ok: true, runtime: "e2b", output: 6, stdout: "hi\n" });
    expect(result.metadata.sandboxId).toMatch(/^i/);
    expect(result.metadata.costUsd).toBeGreaterThan(0);
  });

  it("is chosen for code that needs a sandbox, for long jobs, and for packages", async () => {
    const r = router();
    for (const extra of [{ isolation: "sandbox" as const }, { expectedDurationMs: 120_000 }, { packages: ["pip"] }]) {
      const decision = await r.explain({ language: "python", code: "1", ...extra });
      expect(decision.selected, JSON.stringify(extra)).toBe("e2b");
    }
  });

  it("installs the request's packages in the sandbox before the code runs", async () => {
    const result = await runtime().execute(request({ code: "import pip\n'installed'", packages: ["pip"] }));
    expect(result).toMatchObject({ ok: true, output: "installed" });
  });

  it("keeps rich display data as artifacts", async () => {
    const code = "class Chart:\n    def _repr_png_(self):\n        return 'iVBORw0KGgo='\ndisplay(Chart())\n'drawn'";
    const result = await runtime().execute(request({ code }));
    expect(result).toMatchObject({ ok: true, output: "drawn" });
    expect(result.artifacts).toEqual([{ mimeType: "image/png", data: "iVBORw0KGgo=", encoding: "base64" }]);
  });

  it("gives a request that needs a sandbox one no other execution used, and kills it afterwards", async () => {
    const r = runtime();
    const first = await r.execute(request({ isolation: "vm" }));
    const second = await r.execute(request({ isolation: "sandbox" }));
    expect(first.metadata.sandboxId).not.toBe(second.metadata.sandboxId);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.live()).toEqual([]);
  });

  it("reuses a sandbox for requests without isolation needs, with a fresh context each time", async () => {
    const r = runtime();
    const first = await r.execute(request({ code: "leaked = 1\n1" }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await r.execute(request({ code: "'leaked' in globals()" }));
    expect(second.metadata.sandboxId).toBe(first.metadata.sandboxId);
    expect(second.output).toBe(false);
  });
});

describe("faults of the service", () => {
  const wrongKey = "e2b_wrongwrongwrongwrongwrongwrong";

  it("a refused key (401) fails an explicit request clearly, without the key", async () => {
    const error = await router({ E2B_API_KEY: wrongKey })
      .execute({ language: "python", code: "1", runtime: "e2b" })
      .catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/refused the API key.*E2B_API_KEY/);
    expect(JSON.stringify({ ...(error as object), message: (error as Error).message })).not.toContain(wrongKey);
  });

  it("a quota or rate limit (429) in auto falls back to a local runtime, recorded in the routing", async () => {
    server.faults.createStatus = { status: 429, times: 10 };
    const r = router({ CODEROUTER_AVAILABILITY_TTL_MS: "0" });
    const result = await r.execute({ language: "javascript", code: "40 + 2", isolation: "sandbox" });
    expect(result).toMatchObject({ ok: true, output: 42 });
    expect(result.runtime).not.toBe("e2b");
    const attempt = result.metadata.routing.attempts[0]!;
    expect(attempt).toMatchObject({ runtime: "e2b", outcome: "infrastructure_error" });
    expect(attempt.error).toMatch(/rate limit|429/);
    expect(server.stats.created).toBeGreaterThanOrEqual(0);
  });

  it("a 5xx on create is retried once; twice fails as an infrastructure error", async () => {
    const r = runtime();
    server.faults.createStatus = { status: 500, times: 1 };
    expect(await r.execute(request())).toMatchObject({ ok: true, output: 2 });
    server.faults.createStatus = { status: 500, times: 2 };
    await expect(r.execute(request({ isolation: "vm" }))).rejects.toMatchObject({ kind: "infrastructure", message: expect.stringMatching(/500/) });
  });

  it("a create that outlasts the request timeout fails, and the sandbox made late is found and killed", async () => {
    const r = runtime({ requestTimeoutMs: 1000 });
    server.faults.createDelayMs = 1500;
    const before = server.stats.created;
    await expect(r.execute(request())).rejects.toMatchObject({ kind: "infrastructure" });
    server.faults.createDelayMs = undefined;
    for (let i = 0; i < 60 && server.stats.created < before + 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    await r.close();
    expect(r.counts().orphansKilled).toBe(server.stats.created - before);
  });

  it("a stream cut mid-execution is an infrastructure error, not retried, and the sandbox is killed", async () => {
    const r = runtime();
    // The execution's own cell (a context's prelude is sent before it).
    server.faults.dropStream = { after: 2, match: RUN_CALL };
    const runs = () => server.cells.filter((cell) => cell.includes(RUN_CALL)).length;
    const before = runs();
    await expect(r.execute(request({ code: "print('a')\nprint('b')\nprint('c')\n1" }))).rejects.toMatchObject({
      kind: "infrastructure",
      message: expect.stringMatching(/during the execution/),
    });
    expect(runs()).toBe(before + 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.live()).toEqual([]);
  });

  it("an execution that never ends is a timeout, and its sandbox is killed", async () => {
    const r = runtime();
    server.faults.hangExecution = RUN_CALL;
    const result = await r.execute(request({ timeoutMs: 800 }));
    expect(result.error?.kind).toBe("timeout");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.live()).toEqual([]);
  });

  it("the user's own exception is a result, not a throw", async () => {
    const result = await runtime().execute(request({ code: "def f():\n    raise KeyError('nope')\nf()" }));
    expect(result).toMatchObject({ ok: false, error: { kind: "runtime", name: "KeyError" } });
    expect(result.error?.traceback).toMatch(/line 2/);
  });
});

describe("the pool", () => {
  it("keeps sandboxes warm so a request does not wait for creation", async () => {
    const r = runtime({ poolSize: 2 });
    const executions = server.stats.executions;
    await r.warm();
    for (let i = 0; i < 100 && r.poolSizes()["e2b.sandboxes"]! < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r.poolSizes()["e2b.sandboxes"]).toBe(2);
    // Each came with a context already given its prelude: the request waits for neither.
    await vi.waitFor(() => expect(server.stats.executions).toBe(executions + 2), { timeout: 15_000 });
    const warm = server.live();
    const result = await r.execute(request());
    expect(result.ok).toBe(true);
    expect(warm).toContain(result.metadata.sandboxId);
  });

  it("serves 200 parallel requests, never two at once in one sandbox, leaking none", async () => {
    const r = runtime({ poolSize: 2, maxSandboxes: 6 });
    server.stats.maxExecutionsInOneSandbox = 0;
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => r.execute(request({ code: "inputs['i'] * 2", inputs: { i } }))));
    results.forEach((result, i) => expect(result.output).toBe(i * 2));
    expect(server.stats.maxExecutionsInOneSandbox).toBe(1);
    expect(server.stats.maxLive).toBeLessThanOrEqual(6 + 1);
    await r.close();
    expect(r.counts().killed).toBe(r.counts().created);
  }, 120_000);
});
