import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { normalizedRequest as request } from "@coderouter/conformance";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LocalBacalhau, runtimeFor } from "./local.js";
import { readSettings } from "@coderouter/core";
import { BACALHAU_ENV, BacalhauRuntime, BacalhauSettingsSchema, type BacalhauSettings } from "../src/index.js";

/**
 * What a user pointing coderouter at a real v1.9 orchestrator would hit, each against the
 * stand-in behaving as Bacalhau does (see test/bacalhau-server): each of these failed on the
 * client written against the earlier, more forgiving stand-in.
 */

const servers: LocalBacalhau[] = [];
const opened: BacalhauRuntime[] = [];
afterEach(async () => {
  for (const r of opened.splice(0)) await r.close();
  for (const server of servers) {
    for (let i = 0; i < 40 && server.active().length; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(server.active()).toEqual([]);
  }
});
afterAll(() => Promise.all(servers.map((s) => s.close())));

async function cluster(options: ConstructorParameters<typeof LocalBacalhau>[0] = {}): Promise<LocalBacalhau> {
  const server = await new LocalBacalhau({ apiKey: "token", ...options }).start();
  servers.push(server);
  return server;
}

function runtime(server: LocalBacalhau, overrides: Partial<BacalhauSettings> = {}): BacalhauRuntime {
  const r = runtimeFor(server, overrides);
  opened.push(r);
  return r;
}

type Spec = { Tasks: { Env: Record<string, string>; Network: { Type: string }; Resources: { CPU: string; Memory?: string } }[] };
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const lastJob = (server: LocalBacalhau) => [...server.jobs.values()].at(-1)!;
const lastTask = (server: LocalBacalhau) => (lastJob(server).spec as unknown as Spec).Tasks[0]!;

describe("a job's life on the orchestrator", () => {
  let server: LocalBacalhau;
  beforeAll(async () => (server = await cluster({ scheduleDelayMs: 300 })));

  it("opens the logs once the job has an execution, so output past the recorded 2 KiB arrives whole", async () => {
    const result = await runtime(server).execute(request({ code: "print('x' * 5000)\n'done'" }));
    expect(result).toMatchObject({ ok: true, output: "done" });
    expect(result.stdout).toBe(`${"x".repeat(5000)}\n`);
    expect(server.stats.logsRefused).toBe(0);
  });

  it("a non-zero exit completes the job on the cluster and is the code's failure, with the status", async () => {
    const result = await runtime(server).execute(request({ code: "import os, sys\nprint('bye', flush=True)\nos._exit(3)" }));
    expect(lastJob(server).state).toBe("Completed");
    expect(result).toMatchObject({ ok: false, stdout: "bye\n", error: { kind: "runtime", name: "ProcessExit", message: expect.stringMatching(/status 3/) } });
  });

  it("reads the completed execution's output when the first execution failed and the cluster retried", async () => {
    server.faults.nodeLostAfterMs = 100;
    // Polling slower than the retry: the job is Completed when first looked at again.
    const result = await runtime(server, { pollMs: 3000 }).execute(request({ code: "import time\ntime.sleep(0.6)\nprint('second run')\n7" }));
    expect(lastJob(server).executions.map((e) => e.state)).toEqual([10, 9]);
    expect(result).toMatchObject({ ok: true, output: 7, stdout: "second run\n" });
  });

  it("stops the job with the reason in the DELETE body", async () => {
    const result = await runtime(server).execute(request({ code: "while True:\n    pass", timeoutMs: 800 }));
    expect(result.error?.kind).toBe("timeout");
    expect(lastJob(server)).toMatchObject({ state: "Stopped", stopReason: "coderouter: timeout" });
  });
});

describe("what the job asks of the cluster", () => {
  let server: LocalBacalhau;
  beforeAll(async () => (server = await cluster()));

  it("carries the request's env inside its payload: any name the schema accepts reaches the code, none reaches the task", async () => {
    const env = { lower_case: "a", EMPTY: "", BACALHAU_TOKEN: "b", HOST_REF: "env:PATH" };
    const python = await runtime(server).execute(
      request({ code: "import os\n[os.environ.get(k) for k in ('lower_case', 'EMPTY', 'BACALHAU_TOKEN', 'HOST_REF')]", env }),
    );
    expect(python).toMatchObject({ ok: true, output: ["a", "", "b", "env:PATH"] });
    expect(Object.keys(lastTask(server).Env).every((name) => name.startsWith("CODEROUTER_"))).toBe(true);
    const javascript = await runtime(server).execute(request({ language: "javascript", code: "[process.env.lower_case, process.env.EMPTY]", env }));
    expect(javascript).toMatchObject({ ok: true, output: ["a", ""] });
  });

  it("asks for bridge networking when the request wants the network, never the node's own (Host/Full)", async () => {
    await runtime(server).execute(request({ network: true }));
    expect(lastTask(server).Network.Type).toBe("Bridge");
    await runtime(server).execute(request());
    expect(lastTask(server).Network.Type).toBe("None");
  });

  it("asks for 500m CPU by default, which a 1-vCPU node (80% offered) can place; more is refused naming the node", async () => {
    await expect(runtime(server).execute(request({ code: "1" }))).resolves.toMatchObject({ ok: true });
    expect(lastTask(server).Resources.CPU).toBe("500m");
    await expect(runtime(server, { cpu: "1" }).execute(request())).rejects.toMatchObject({
      kind: "infrastructure",
      message: expect.stringMatching(/not enough nodes to run job/),
    });
  });

  it("keeps the payload small: the code travels compressed, and a payload over the limit is refused before it is submitted", async () => {
    const submitted = server.stats.submitted;
    const code = `# ${"padding ".repeat(20_000)}\n1`;
    await runtime(server).execute(request({ code }));
    const sent = Object.values(lastTask(server).Env).join("").length;
    expect(sent).toBeLessThan(code.length / 10);
    const random = Buffer.from(Array.from({ length: 600_000 }, () => Math.floor(Math.random() * 256))).toString("base64");
    await expect(runtime(server).execute(request({ inputs: { random } }))).rejects.toMatchObject({
      kind: "infrastructure",
      message: expect.stringMatching(/BACALHAU_MAX_PAYLOAD_BYTES/),
    });
    expect(server.stats.submitted).toBe(submitted + 1);
  });

  it("with BACALHAU_PAYLOAD_URL, serves the payload to the nodes: the job carries only a URL, withdrawn when it ends", async () => {
    const port = await freePort();
    const r = runtime(server, { payloadUrl: `http://127.0.0.1:${port}` });
    const random = Buffer.from(Array.from({ length: 600_000 }, () => Math.floor(Math.random() * 256))).toString("base64");
    const python = await r.execute(request({ code: "len(inputs['random'])", inputs: { random }, env: { lower: "a" } }));
    expect(python).toMatchObject({ ok: true, output: random.length });
    const task = lastTask(server) as unknown as { InputSources: { Source: { Type: string; Params: { URL: string } }; Target: string }[] };
    const url = task.InputSources[0]!.Source.Params.URL;
    expect(task.InputSources[0]).toMatchObject({ Source: { Type: "urlDownload" }, Target: "/tmp/coderouter" });
    expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/payload/[0-9a-f]{64}/payload\\.gz$`));
    expect(JSON.stringify(lastJob(server).spec).length).toBeLessThan(50_000);
    expect((await fetch(url)).status).toBe(404);
    const javascript = await r.execute(request({ language: "javascript", code: "process.env.lower + inputs.n", inputs: { n: 1 }, env: { lower: "a" } }));
    expect(javascript).toMatchObject({ ok: true, output: "a1" });
  });

  it("reads the API's JSON errors as a sentence, not a JSON dump", async () => {
    const r = runtime(server, { apiKey: "wrong" });
    await expect(r.execute(request())).rejects.toMatchObject({
      message: expect.stringMatching(/401 Unauthorized: missing or invalid bearer token \(check BACALHAU_API_KEY\)/),
    });
  });
});

describe("memory", () => {
  let server: LocalBacalhau;
  beforeAll(async () => (server = await cluster()));

  it("gives the container binary megabytes and headroom, so the interpreter's own limit is hit first (one execution, kind memory)", async () => {
    const result = await runtime(server).execute(
      request({ language: "javascript", memoryMb: 64, code: "const keep = []; while (true) keep.push(new Array(1e5).fill(keep.length));" }),
    );
    expect(result.error?.kind).toBe("memory");
    expect(lastTask(server).Resources.Memory).toBe("144mib");
    expect(lastJob(server).executions).toHaveLength(1);
  });

  it('maps the cluster\'s OOM kill ("memory limit exceeded") to kind memory and stops the retry', async () => {
    const result = await runtime(server, { memory: "100mib" }).execute(
      request({ code: "keep = []\nwhile True:\n    keep.append(bytearray(b'x') * (1 << 20))", timeoutMs: 20_000 }),
    );
    expect(result.error?.kind).toBe("memory");
    expect(lastJob(server).executions[0]).toMatchObject({ state: 10, message: "memory limit exceeded" });
    expect(lastJob(server).state).not.toBe("Completed");
  });
});

describe("the image pull", () => {
  it("is not counted in the request's timeout", async () => {
    const server = await cluster({ pullDelayMs: 1500 });
    const result = await runtime(server).execute(request({ code: "print('pulled')\n2", timeoutMs: 1000 }));
    expect(result).toMatchObject({ ok: true, output: 2, stdout: "pulled\n" });
  });

  it("is bounded by BACALHAU_START_TIMEOUT_MS, as an infrastructure error", async () => {
    const server = await cluster({ pullDelayMs: 5000 });
    await expect(runtime(server, { startTimeoutMs: 1000 }).execute(request({ timeoutMs: 500 }))).rejects.toMatchObject({
      kind: "infrastructure",
      message: expect.stringMatching(/did not start its code within 1000 ms/),
    });
    expect(lastJob(server).state).toBe("Stopped");
  });
});

describe("TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "bacalhau-tls-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("trusts the CA named by BACALHAU_API_TLS_CAFILE for https and wss, and refuses an unknown certificate without it", async () => {
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"],
        ...["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
      ],
      { stdio: "ignore" },
    );
    const tls = { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
    const server = await cluster({ tls });
    expect((await runtime(server).availability()).reason).toMatch(/not alive: .*SELF_SIGNED.*BACALHAU_API_TLS_CAFILE/);
    const trusted = runtime(server, { caFile: join(dir, "cert.pem") });
    expect(await trusted.availability()).toMatchObject({ available: true });
    await expect(trusted.execute(request({ code: "print('over tls')\n3" }))).resolves.toMatchObject({ ok: true, output: 3, stdout: "over tls\n" });
  });

  it("reads the v1.5-v1.6 CLI's names too, and says which file it could not read", async () => {
    const settings = readSettings(BacalhauSettingsSchema, BACALHAU_ENV, {
      BACALHAU_API_HOST: "127.0.0.1",
      BACALHAU_API_TLS: "true",
      BACALHAU_API_CACERT: join(dir, "missing.pem"),
    });
    expect(settings).toMatchObject({ tls: true, caFile: join(dir, "missing.pem") });
    const r = new BacalhauRuntime(settings);
    opened.push(r);
    expect((await r.availability()).reason).toMatch(/cannot read the CA certificate file .*missing\.pem \(BACALHAU_API_TLS_CAFILE\)/);
  });
});
