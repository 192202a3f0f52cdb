import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConfigError,
  NoRuntimeAvailableError,
  PackageInstallError,
  RuntimeUnavailableError,
  ValidationError,
  createRouter,
  type Router,
  type RouterOptions,
} from "../src/index.js";
import { EchoRuntime } from "./test-runtime.js";

const routers: Router[] = [];
function router(options: RouterOptions = {}): Router {
  const r = createRouter({ env: {}, ...options });
  routers.push(r);
  return r;
}
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close()));
});

describe("routing", () => {
  it("picks the fastest runtime that can take the request, and says why", async () => {
    const fast = new EchoRuntime("isolate", { startupMs: 1, isolation: "sandbox", languages: ["javascript", "typescript"] });
    const slow = new EchoRuntime("subprocess", { startupMs: 40 });
    const r = router({ runtimes: { isolate: fast, subprocess: slow }, settings: { enabledRuntimes: ["isolate", "subprocess"] } });
    const result = await r.execute({ language: "javascript", code: "1" });
    expect(result.runtime).toBe("isolate");
    expect(result.metadata.routing.selected).toBe("isolate");
    expect(result.metadata.routing.reason).toMatch(/highest score/);
    expect(result.metadata.routing.attempts).toEqual([expect.objectContaining({ runtime: "isolate", outcome: "ok" })]);
  });

  it("lists every runtime with its score or the reason it was ruled out", async () => {
    const r = router({
      runtimes: {
        isolate: new EchoRuntime("isolate", { languages: ["javascript"] }),
        subprocess: new EchoRuntime("subprocess"),
        e2b: new EchoRuntime("e2b", { location: "remote", isolation: "vm" }, { availability: { available: false, reason: "E2B_API_KEY is not set" } }),
      },
      settings: { enabledRuntimes: ["isolate", "subprocess", "e2b"] },
    });
    const decision = await r.explain({ language: "python", code: "print(1)" });
    const byId = Object.fromEntries(decision.candidates.map((c) => [c.runtime, c]));
    expect(Object.keys(byId).sort()).toEqual(["bacalhau", "e2b", "isolate", "subprocess", "wasm"]);
    expect(byId.subprocess).toMatchObject({ eligible: true, score: expect.any(Number) });
    expect(byId.isolate!.reason).toMatch(/does not run python/);
    expect(byId.e2b!.reason).toMatch(/E2B_API_KEY is not set/);
    expect(byId.wasm!.reason).toMatch(/CODEROUTER_RUNTIMES/);
    expect(decision.selected).toBe("subprocess");
  });

  it("rules out the isolate and wasm runtimes for bash, saying why", async () => {
    const r = router({ settings: { enabledRuntimes: ["isolate", "wasm"] } });
    const decision = await r.explain({ language: "bash", code: "echo hi" });
    const byId = Object.fromEntries(decision.candidates.map((c) => [c.runtime, c]));
    expect(decision.selected).toBeNull();
    expect(byId.isolate).toMatchObject({ eligible: false, reason: expect.stringMatching(/does not run bash: a V8 isolate has no processes/) });
    expect(byId.wasm).toMatchObject({ eligible: false, reason: expect.stringMatching(/does not run bash: WebAssembly .* has no processes/) });
    await expect(r.execute({ language: "bash", code: "echo hi" })).rejects.toThrow(/no runtime can take this bash request.*no shell/);
  });

  it("rules out runtimes whose isolation is below the need", async () => {
    const r = router({
      runtimes: { subprocess: new EchoRuntime("subprocess"), isolate: new EchoRuntime("isolate", { isolation: "sandbox" }) },
      settings: { enabledRuntimes: ["subprocess", "isolate"] },
    });
    const decision = await r.explain({ language: "javascript", code: "1", isolation: "sandbox" });
    expect(decision.selected).toBe("isolate");
    expect(decision.candidates.find((c) => c.runtime === "subprocess")?.reason).toMatch(/"process" isolation.*"sandbox"/);
  });

  it("sends long jobs off the local machine and very long ones to bacalhau", async () => {
    const r = router({
      runtimes: {
        subprocess: new EchoRuntime("subprocess"),
        e2b: new EchoRuntime("e2b", { location: "remote", isolation: "vm", startupMs: 300, costPerSecondUsd: 0.000014 }),
        bacalhau: new EchoRuntime("bacalhau", { location: "remote", isolation: "vm", startupMs: 5000, maxDurationMs: 24 * 3_600_000 }),
      },
      settings: { enabledRuntimes: ["subprocess", "e2b", "bacalhau"] },
    });
    expect((await r.explain({ language: "python", code: "1", expectedDurationMs: 1000 })).selected).toBe("subprocess");
    expect((await r.explain({ language: "python", code: "1", expectedDurationMs: 120_000 })).selected).toBe("e2b");
    expect((await r.explain({ language: "python", code: "1", expectedDurationMs: 2 * 3_600_000 })).selected).toBe("bacalhau");
  });

  it("favours a runtime with packages when a Python import is missing locally", async () => {
    const local = new EchoRuntime("subprocess");
    local.missingModules = async (_language, modules) => modules.filter((m) => m === "pandas");
    const r = router({
      runtimes: { subprocess: local, e2b: new EchoRuntime("e2b", { location: "remote", isolation: "vm", startupMs: 300, packages: "installable" }) },
      settings: { enabledRuntimes: ["subprocess", "e2b"] },
    });
    expect((await r.explain({ language: "python", code: "import json\n1" })).selected).toBe("subprocess");
    const decision = await r.explain({ language: "python", code: "import pandas as pd\npd.DataFrame()" });
    expect(decision.selected).toBe("e2b");
    expect(decision.candidates.find((c) => c.runtime === "subprocess")?.reason).toMatch(/cannot import pandas/);
  });

  it("sends a request with packages to E2B when enabled, else to a local runtime that installs them; the rest say why not", async () => {
    const local = new EchoRuntime("subprocess", { startupMs: 25, oneShotPackages: { installs: true } });
    local.missingModules = async (_language, modules) => modules;
    const isolate = new EchoRuntime("isolate", { startupMs: 1, oneShotPackages: { installs: false, why: "no module loader" } });
    const e2b = new EchoRuntime("e2b", { location: "remote", isolation: "vm", startupMs: 2500, costPerSecondUsd: 0.00005, packages: "installable" });
    const request = { language: "python" as const, code: "import crtiny\ncrtiny.ANSWER", packages: ["crtiny"] };

    const withoutE2B = router({ runtimes: { subprocess: local, isolate }, settings: { enabledRuntimes: ["subprocess", "isolate"] } });
    const local_ = await withoutE2B.explain(request);
    expect(local_.selected).toBe("subprocess");
    // Not held back for the module it is about to install.
    expect(local_.candidates.find((c) => c.runtime === "subprocess")).toMatchObject({
      reason: "eligible; installs crtiny before the run",
      breakdown: { dependencies: 0 },
    });
    expect(local_.candidates.find((c) => c.runtime === "isolate")?.reason).toBe("cannot install packages (no module loader), the request asks for crtiny");
    expect((await withoutE2B.execute(request)).runtime).toBe("subprocess");

    const withE2B = router({ runtimes: { subprocess: local, isolate, e2b }, settings: { enabledRuntimes: ["subprocess", "isolate", "e2b"] } });
    const remote = await withE2B.explain(request);
    expect(remote.selected).toBe("e2b");
    expect(remote.reason).toMatch(/packages \+70/);
    // Without packages a local runtime is the choice again, and a runtime that declares nothing falls back on `packages`.
    expect((await withE2B.explain({ language: "python", code: "1" })).selected).not.toBe("e2b");
    const plain = router({ runtimes: { subprocess: new EchoRuntime("subprocess") } });
    expect((await plain.explain(request)).candidates.find((c) => c.runtime === "subprocess")?.reason).toBe(
      "cannot install packages, the request asks for crtiny",
    );
  });

  it("passes a PackageInstallError through instead of falling back to another runtime", async () => {
    class FailingInstall extends EchoRuntime {
      override async execute(): Promise<never> {
        throw new PackageInstallError(["nothing-here"], "pip exited with code 1");
      }
    }
    const next = new EchoRuntime("isolate", { oneShotPackages: { installs: true }, startupMs: 100 });
    const r = router({
      runtimes: { subprocess: new FailingInstall("subprocess", { oneShotPackages: { installs: true } }), isolate: next },
      settings: { enabledRuntimes: ["subprocess", "isolate"] },
    });
    await expect(r.execute({ language: "python", code: "1", packages: ["nothing-here"] })).rejects.toThrow(PackageInstallError);
    expect(next.executions).toEqual([]);
  });

  it("resolves the aliases vm2, wasmedge, python and local", async () => {
    const r = router({ runtimes: { subprocess: new EchoRuntime("subprocess"), isolate: new EchoRuntime("isolate") } });
    expect((await r.execute({ language: "python", code: "1", runtime: "python" })).runtime).toBe("subprocess");
    expect((await r.execute({ language: "python", code: "1", runtime: "local" })).runtime).toBe("subprocess");
    expect((await r.execute({ language: "javascript", code: "1", runtime: "vm2" })).runtime).toBe("isolate");
    expect((await r.execute({ language: "javascript", code: "1", runtime: "wasmedge" })).runtime).toBe("wasm");
  });
});

describe("explicit runtimes and fallback", () => {
  it("uses an explicit runtime as asked, or refuses with the reason; never runs elsewhere", async () => {
    const subprocess = new EchoRuntime("subprocess");
    const isolate = new EchoRuntime("isolate", { languages: ["javascript"] });
    const r = router({ runtimes: { subprocess, isolate } });
    const error = await r.execute({ language: "python", code: "1", runtime: "isolate" }).catch((e) => e);
    expect(error).toBeInstanceOf(RuntimeUnavailableError);
    expect(error.message).toMatch(/runtime "isolate" cannot take this request: does not run python/);
    expect(subprocess.executions).toHaveLength(0);
  });

  it("falls back to the next candidate on an infrastructure failure and records every attempt", async () => {
    const broken = new EchoRuntime("isolate", { startupMs: 1 }, { infrastructureFailure: "isolate pool exhausted" });
    const working = new EchoRuntime("subprocess", { startupMs: 40 });
    const r = router({ runtimes: { isolate: broken, subprocess: working }, settings: { enabledRuntimes: ["isolate", "subprocess"] } });
    const result = await r.execute({ language: "javascript", code: "1" });
    expect(result.runtime).toBe("subprocess");
    expect(result.metadata.routing.attempts).toEqual([
      expect.objectContaining({ runtime: "isolate", outcome: "infrastructure_error", error: "isolate pool exhausted" }),
      expect.objectContaining({ runtime: "subprocess", outcome: "ok" }),
    ]);
  });

  it("never falls back when the user's code fails", async () => {
    const failing = new EchoRuntime("isolate", { startupMs: 1 }, { codeFails: true });
    const other = new EchoRuntime("subprocess", { startupMs: 40 });
    const r = router({ runtimes: { isolate: failing, subprocess: other }, settings: { enabledRuntimes: ["isolate", "subprocess"] } });
    const result = await r.execute({ language: "javascript", code: "throw 1" });
    expect(result.ok).toBe(false);
    expect(result.runtime).toBe("isolate");
    expect(other.executions).toHaveLength(0);
    expect(result.metadata.routing.attempts).toEqual([expect.objectContaining({ runtime: "isolate", outcome: "code_error" })]);
  });

  it("does not fall back from an explicit runtime that fails", async () => {
    const broken = new EchoRuntime("subprocess", {}, { infrastructureFailure: "python3 not found" });
    const other = new EchoRuntime("isolate");
    const r = router({ runtimes: { subprocess: broken, isolate: other } });
    await expect(r.execute({ language: "javascript", code: "1", runtime: "subprocess" })).rejects.toThrow(RuntimeUnavailableError);
    expect(other.executions).toHaveLength(0);
  });

  it("rejects with NoRuntimeAvailableError listing every runtime when none can take the request", async () => {
    const r = router({
      runtimes: { subprocess: new EchoRuntime("subprocess", { languages: ["python"] }), isolate: new EchoRuntime("isolate", { languages: ["typescript"] }) },
      settings: { enabledRuntimes: ["isolate", "subprocess", "e2b", "bacalhau"] },
    });
    const error = await r.execute({ language: "javascript", code: "1" }).catch((e) => e);
    expect(error).toBeInstanceOf(NoRuntimeAvailableError);
    for (const id of ["isolate", "subprocess", "wasm", "e2b", "bacalhau"]) expect(error.message).toContain(`${id}:`);
    expect(error.decision.selected).toBeNull();
  });
});

describe("requests and settings", () => {
  it("answers success beside ok, for clients written against the seeds' APIs", async () => {
    const good = router({ runtimes: { subprocess: new EchoRuntime("subprocess") }, settings: { enabledRuntimes: ["subprocess"] } });
    expect(await good.execute({ language: "python", code: "1" })).toMatchObject({ ok: true, success: true });
    const bad = router({ runtimes: { subprocess: new EchoRuntime("subprocess", {}, { codeFails: true }) }, settings: { enabledRuntimes: ["subprocess"] } });
    expect(await bad.execute({ language: "python", code: "1" })).toMatchObject({ ok: false, success: false });
  });

  it("rejects an invalid request with a ValidationError naming each field", async () => {
    const r = router({ runtimes: { subprocess: new EchoRuntime("subprocess") } });
    const error = await r.execute({ language: "cobol", code: 1, timeoutMs: -5 } as never).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.issues.map((i: { path: string }) => i.path).sort()).toEqual(["code", "language", "timeoutMs"]);
    await expect(r.execute({ language: "python", code: "1", runtime: "docker" })).rejects.toThrow(/unknown runtime "docker"/);
  });

  it("names the input and the exact path of a value that is not JSON, and refuses inputs nested too deep", async () => {
    const r = router({ runtimes: { subprocess: new EchoRuntime("subprocess") } });
    const rows = [{ id: 1 }, { id: 2, when: new Date(0) }];
    const error = await r.execute({ language: "python", code: "1", inputs: { rows } as never }).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.issues).toEqual([{ path: "inputs.rows.1.when", message: "a Date instance, not a plain object" }]);
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    await expect(r.execute({ language: "python", code: "1", inputs: { deep } as never })).rejects.toThrow(/inputs\.deep\.0\.0.*nested deeper than 200 levels/);
  });

  it("applies the defaults from settings to what the runtime receives", async () => {
    const subprocess = new EchoRuntime("subprocess");
    const r = router({ env: { E2B_TIMEOUT_MS: "1234", CODEROUTER_MEMORY_MB: "256" }, runtimes: { subprocess } });
    await r.execute({ language: "python", code: "1" });
    expect(subprocess.executions[0]).toMatchObject({ timeoutMs: 1234, memoryMb: 256, maxOutputBytes: 1024 * 1024, inputs: {} });
  });

  it("stops start-up on a bad value with a message naming the variable", () => {
    expect(() => createRouter({ env: { E2B_TIMEOUT_MS: "soon" } })).toThrow(ConfigError);
    expect(() => createRouter({ env: { E2B_TIMEOUT_MS: "soon" } })).toThrow(/E2B_TIMEOUT_MS.*"soon"/);
    expect(() => createRouter({ env: { CODEROUTER_RUNTIMES: "subprocess,docker" } })).toThrow(
      /CODEROUTER_RUNTIMES.*one of: isolate, subprocess, wasm, e2b, bacalhau/,
    );
  });

  it("reads a .env file, with variables already set winning", () => {
    const dir = mkdtempSync(join(tmpdir(), "coderouter-env-"));
    const file = join(dir, ".env");
    writeFileSync(file, "E2B_TIMEOUT_MS=4321\nCODEROUTER_MAX_OUTPUT_BYTES=2048\n");
    const previous = process.env.CODEROUTER_MAX_OUTPUT_BYTES;
    process.env.CODEROUTER_MAX_OUTPUT_BYTES = "4096";
    try {
      const r = createRouter({ dotenv: file });
      routers.push(r);
      expect(r.settings.defaultTimeoutMs).toBe(4321);
      expect(r.settings.maxOutputBytes).toBe(4096);
    } finally {
      if (previous === undefined) delete process.env.CODEROUTER_MAX_OUTPUT_BYTES;
      else process.env.CODEROUTER_MAX_OUTPUT_BYTES = previous;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("closes every runtime it created and refuses work afterwards", async () => {
    const subprocess = new EchoRuntime("subprocess");
    const r = createRouter({ env: {}, runtimes: { subprocess } });
    await r.execute({ language: "python", code: "1" });
    await r.close();
    expect(subprocess.closed).toBe(true);
    await expect(r.execute({ language: "python", code: "1" })).rejects.toThrow(/closed/);
  });
});

describe("runtime statuses", () => {
  it("lists only the enabled runtimes when asked, neither loading nor probing the others", async () => {
    let probes = 0;
    const disabled = new (class extends EchoRuntime {
      override availability() {
        probes++;
        return super.availability();
      }
    })("subprocess");
    const r = router({
      runtimes: { isolate: new EchoRuntime("isolate"), subprocess: disabled },
      builtinRuntimes: false,
      settings: { enabledRuntimes: ["isolate"] },
    });
    expect((await r.runtimes({ enabledOnly: true })).map((s) => s.id)).toEqual(["isolate"]);
    expect(probes).toBe(0);
    // Without the option every runtime is listed, a disabled one with its probe's reason.
    expect((await r.runtimes()).find((s) => s.id === "subprocess")).toMatchObject({
      enabled: false,
      available: false,
      reason: expect.stringMatching(/^disabled: not listed/),
    });
    expect(probes).toBe(1);
  });
});
