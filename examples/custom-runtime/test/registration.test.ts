import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "@coderouter/cli";
import { startServer, type RunningServer } from "@coderouter/server";
import { ConfigError, createRouter, defineRuntime, type Router } from "coderouter";
import { workerRuntime } from "../src/index.js";

const routers: Router[] = [];
const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(routers.splice(0).map((r) => r.close()));
});

// Only the plug-in: no built-in is probed, so these stay in the fast suite.
function router(): Router {
  const r = createRouter({ env: {}, runtimes: [workerRuntime], builtinRuntimes: false });
  routers.push(r);
  return r;
}

describe("a plug-in runtime registered through the public API", () => {
  it("runs code and is chosen and explained by the router", async () => {
    const r = router();
    const result = await r.execute({ language: "typescript", code: "const n: number = inputs.n\nconsole.log('hi')\nn * 2", inputs: { n: 21 } });
    expect(result).toMatchObject({ ok: true, output: 42, stdout: "hi\n", runtime: "worker" });
    const decision = await r.explain({ language: "javascript", code: "1" });
    expect(decision.selected).toBe("worker");
    expect(decision.candidates.map((c) => c.runtime)).toEqual(["worker"]);
    const python = await r.explain({ language: "python", code: "1" });
    expect(python.candidates[0]?.reason).toMatch(/does not run python/);
  });

  it("sits beside the built-ins, and an explicit runtime: worker goes to it", async () => {
    const r = createRouter({ env: {}, runtimes: [workerRuntime], settings: { enabledRuntimes: ["worker", "isolate"] } });
    routers.push(r);
    const decision = await r.explain({ language: "javascript", code: "1", runtime: "worker" });
    expect(decision.selected).toBe("worker");
    expect(decision.candidates.map((c) => c.runtime).sort()).toEqual(["bacalhau", "e2b", "isolate", "subprocess", "wasm", "worker"]);
  });

  it("appears in /v1/runtimes with its capabilities", async () => {
    const server = await startServer(router(), { port: 0 }, {});
    servers.push(server);
    const body = (await (await fetch(`${server.url}/v1/runtimes`)).json()) as {
      runtimes: { id: string; available: boolean; capabilities: { languages: string[] } }[];
    };
    expect(body.runtimes).toEqual([
      expect.objectContaining({ id: "worker", available: true, capabilities: expect.objectContaining({ languages: ["javascript", "typescript"] }) }),
    ]);
  });

  it("appears in coderouter doctor and explain when named in CODEROUTER_RUNTIME_PLUGINS", async () => {
    const module = fileURLToPath(new URL("../src/index.ts", import.meta.url));
    const saved = { ...process.env };
    process.env.CODEROUTER_RUNTIME_PLUGINS = `worker=${module}`;
    process.env.CODEROUTER_RUNTIMES = "worker";
    try {
      const doctor = await cli(["doctor", "--json"]);
      expect(doctor.code).toBe(0);
      const worker = (JSON.parse(doctor.stdout) as { id: string; available: boolean; enabled: boolean }[]).find((s) => s.id === "worker");
      expect(worker).toMatchObject({ available: true, enabled: true });
      const explain = await cli(["explain", "--language", "javascript", "--json", "-"], "1 + 1");
      expect(JSON.parse(explain.stdout).selected).toBe("worker");
    } finally {
      process.env = saved;
    }
  });

  it("refuses a definition built for another contract version, or two runtimes with one id", () => {
    const stale = { ...workerRuntime, contractVersion: 0 };
    expect(() => createRouter({ env: {}, runtimes: [stale] })).toThrow(ConfigError);
    expect(() => createRouter({ env: {}, runtimes: [stale] })).toThrow(/contract 0, this coderouter implements 1/);
    expect(() => createRouter({ env: {}, runtimes: [workerRuntime, workerRuntime] })).toThrow(/two runtimes are registered as "worker"/);
    expect(() => createRouter({ env: {}, runtimes: [defineRuntime({ ...workerRuntime, id: "Not An Id" })] })).toThrow(/invalid runtime id/);
  });
});

async function cli(args: string[], stdin = "") {
  const [out, err, input] = [new PassThrough(), new PassThrough(), new PassThrough()];
  input.end(stdin);
  let stdout = "";
  let stderr = "";
  out.on("data", (chunk) => (stdout += chunk));
  err.on("data", (chunk) => (stderr += chunk));
  const code = await main(args, { stdin: input, stdout: out, stderr: err });
  return { code, stdout, stderr };
}
