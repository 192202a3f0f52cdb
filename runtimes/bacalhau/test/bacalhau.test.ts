import { normalizedRequest as request } from "@coderouter/conformance";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRouter, type Router } from "coderouter";
import { LocalBacalhau, runtimeFor } from "./local.js";
import type { BacalhauRuntime } from "../src/index.js";

const server = new LocalBacalhau({ apiKey: "secret-token" });
const opened: (BacalhauRuntime | Router)[] = [];
beforeAll(() => server.start());
afterAll(() => server.close());
afterEach(async () => {
  for (const r of opened.splice(0)) await r.close();
  Object.assign(server.faults, { submitStatus: undefined, nodeLostAfterMs: undefined, cutLogsAfter: undefined });
  // Whatever a test did, no job is left running on the cluster.
  for (let i = 0; i < 20 && server.active().length; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(server.active()).toEqual([]);
});

function runtime(): BacalhauRuntime {
  const r = runtimeFor(server);
  opened.push(r);
  return r;
}

function router(env: Record<string, string> = {}): Router {
  const r = createRouter({ env: { ...server.env(), BACALHAU_POLL_MS: "50", ...env }, dotenv: false });
  opened.push(r);
  return r;
}

describe("configuration and routing", () => {
  it("is ruled out with the reason when not configured, or not alive", async () => {
    const unset = await createRouter({ env: {}, dotenv: false }).explain({ language: "python", code: "1", runtime: "bacalhau" });
    expect(unset.reason).toMatch(/BACALHAU_API_HOST is not set/);
    const dead = await createRouter({ env: { BACALHAU_API_HOST: "127.0.0.1", BACALHAU_API_PORT: "9" }, dotenv: false }).explain({
      language: "python",
      code: "1",
      runtime: "bacalhau",
    });
    expect(dead.reason).toMatch(/not alive: cannot reach/);
  });

  it("is the first candidate for jobs expected to run longer than 10 minutes, and not for short ones", async () => {
    const r = router();
    expect((await r.explain({ language: "python", code: "1", expectedDurationMs: 20 * 60_000 })).selected).toBe("bacalhau");
    expect((await r.explain({ language: "python", code: "1" })).selected).not.toBe("bacalhau");
  });

  it("runs end to end through the router, with a cost estimate", async () => {
    const result = await router({ BACALHAU_PRICE_SECOND_USD: "0.001" }).execute({
      language: "python",
      code: "print('from the cluster')\nsum(inputs['xs'])",
      inputs: { xs: [1, 2, 3] },
      runtime: "bacalhau",
    });
    expect(result).toMatchObject({ ok: true, runtime: "bacalhau", output: 6, stdout: "from the cluster\n" });
    expect(result.metadata.costUsd).toBeGreaterThan(0);
  });

  it("sends the job the documented shape: a batch docker task, the image per language, the request's timeout", async () => {
    await runtime().execute(request({ language: "javascript", code: "1", timeoutMs: 4000 }));
    const job = [...server.jobs.values()].at(-1)!.spec as unknown as {
      Type: string;
      Tasks: { Engine: { Params: { Image: string } }; Timeouts: { ExecutionTimeout: number }; Env: Record<string, string> }[];
    };
    expect(job.Type).toBe("batch");
    expect(job.Tasks[0]!.Engine.Params.Image).toBe("node:22-slim");
    // The request's timeout and the time allowed for scheduling and the image pull.
    expect(job.Tasks[0]!.Timeouts.ExecutionTimeout).toBe(4 + 300 + 1);
    // The code travels as data in the environment, not in the entrypoint.
    expect(JSON.stringify(job.Tasks[0]!.Engine)).not.toContain("inputs");
  });
});

describe("faults of the cluster", () => {
  it("a refused submission is an infrastructure error; in auto the router falls back", async () => {
    server.faults.submitStatus = { status: 503, times: 1 };
    await expect(runtime().execute(request())).rejects.toMatchObject({ kind: "infrastructure", message: expect.stringMatching(/503/) });
    server.faults.submitStatus = { status: 500, times: 1 };
    const result = await router().execute({ language: "python", code: "40 + 2", expectedDurationMs: 20 * 60_000 });
    expect(result).toMatchObject({ ok: true, output: 42 });
    expect(result.metadata.routing.attempts[0]).toMatchObject({ runtime: "bacalhau", outcome: "infrastructure_error" });
  });

  it("a node lost mid-job is an infrastructure error naming it", async () => {
    server.faults.nodeLostAfterMs = 200;
    await expect(runtime().execute(request({ code: "import time\ntime.sleep(3)\n1" }))).rejects.toMatchObject({
      kind: "infrastructure",
      message: expect.stringMatching(/execution failed on the cluster: node lost/),
    });
  });

  it("a logs stream cut halfway falls back to the output the cluster recorded", async () => {
    server.faults.cutLogsAfter = 1;
    const result = await runtime().execute(request({ code: "import time\nprint('one', flush=True)\ntime.sleep(0.2)\nprint('two')\n'done'" }));
    expect(result).toMatchObject({ ok: true, output: "done", stdout: "one\ntwo\n" });
  });

  it("a wrong token is refused with the variable to check", async () => {
    const r = runtimeFor(server, { apiKey: "wrong" });
    opened.push(r);
    await expect(r.execute(request())).rejects.toMatchObject({ message: expect.stringMatching(/401.*BACALHAU_API_KEY/) });
  });

  it("a timeout stops the job on the cluster", async () => {
    const stopped = server.stats.stopped;
    const result = await runtime().execute(request({ code: "while True:\n    pass", timeoutMs: 1000 }));
    expect(result.error?.kind).toBe("timeout");
    expect(server.stats.stopped).toBe(stopped + 1);
    expect([...server.jobs.values()].at(-1)!.state).toBe("Stopped");
  });

  it("close() stops the jobs still running", async () => {
    const r = runtime();
    const pending = r.execute(request({ code: "import time\ntime.sleep(30)" })).catch((e: Error) => e);
    for (let i = 0; i < 100 && server.active().length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    await r.close();
    expect([...server.jobs.values()].at(-1)!.state).toBe("Stopped");
    expect(await pending).toBeInstanceOf(Error);
  });
});
