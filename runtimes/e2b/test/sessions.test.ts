import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizedRequest } from "@coderouter/conformance";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalE2B, runtimeFor } from "./local.js";
import { LocalPackageIndex } from "../../../test/package-index/server.js";
import type { E2BRuntime } from "../src/index.js";

const server = new LocalE2B({ contextDelayMs: 100 });
const runtimes: E2BRuntime[] = [];
beforeAll(() => server.start());
afterAll(() => server.close());

function runtime(overrides = {}): E2BRuntime {
  const created = runtimeFor(server, { poolSize: 1, ...overrides });
  runtimes.push(created);
  return created;
}

/** The sandbox as the control plane describes it (its end time, its metadata). */
async function describeSandbox(id: string): Promise<{ endAt: string; metadata: Record<string, string> }> {
  const response = await fetch(`${server.url}/sandboxes/${id}`, { headers: { "x-api-key": server.apiKey } });
  return (await response.json()) as { endAt: string; metadata: Record<string, string> };
}

describe("E2B sessions", () => {
  it("gives each session a sandbox of its own, apart from the pool and from other sessions", async () => {
    const e2b = runtime();
    const a = await e2b.openSession({ language: "python", isolation: "vm", idleTimeoutMs: 60_000 });
    const b = await e2b.openSession({ language: "python", isolation: "vm", idleTimeoutMs: 60_000 });
    const inA = await a.execute(normalizedRequest({ language: "python", code: "secret = 'a'\nsecret" }));
    const inB = await b.execute(normalizedRequest({ language: "python", code: "'secret' in globals()" }));
    const pooled = await e2b.execute(normalizedRequest({ language: "python", code: "1" }));
    expect(inB.output).toBe(false);
    const ids = new Set([inA.metadata.sandboxId, inB.metadata.sandboxId, pooled.metadata.sandboxId]);
    expect(ids.size).toBe(3);
    expect((await describeSandbox(inA.metadata.sandboxId!)).metadata).toMatchObject({ createdBy: "coderouter", coderouterSession: "true" });
    await a.close();
    await b.close();
    expect(server.live()).not.toContain(inA.metadata.sandboxId);
    expect(server.live()).not.toContain(inB.metadata.sandboxId);
  });

  it("keeps the sandbox's own timeout in step with the session's idle timeout", async () => {
    const e2b = runtime({ poolSize: 0 });
    const session = await e2b.openSession({ language: "python", isolation: "vm", idleTimeoutMs: 120_000 });
    const id = (await session.execute(normalizedRequest({ language: "python", code: "1", timeoutMs: 10_000 }))).metadata.sandboxId!;
    const life = new Date((await describeSandbox(id)).endAt).getTime() - Date.now();
    // The idle timeout, the execution's own time and a margin: E2B ends it if this process is gone.
    expect(life).toBeGreaterThan(120_000);
    expect(life).toBeLessThan(120_000 + 10_000 + 31_000);
    await session.close();
  });

  it("ends the session, killing its sandbox, when a limit stops an execution", async () => {
    const e2b = runtime({ poolSize: 0 });
    const session = await e2b.openSession({ language: "python", isolation: "vm", idleTimeoutMs: 60_000 });
    const result = await session.execute(normalizedRequest({ language: "python", code: "while True: pass", timeoutMs: 1000 }));
    expect(result.error?.kind).toBe("timeout");
    expect(session.alive).toBe(false);
    expect(server.live()).not.toContain(result.metadata.sandboxId);
  });

  it("refuses a session on a template without the code interpreter, saying why", async () => {
    const e2b = runtime({ poolSize: 0, template: "base" });
    expect(e2b.capabilities().sessions).toBe(false);
    await expect(e2b.openSession({ language: "python", isolation: "vm" })).rejects.toThrow(/E2B_TEMPLATE=base has no code interpreter/);
  });

  it("installs packages with pip inside the session's sandbox, streaming its output; the kernel then imports them", async () => {
    const index = await LocalPackageIndex.start();
    const cache = mkdtempSync(join(tmpdir(), "coderouter-e2b-pip-cache-"));
    try {
      const e2b = runtime({ poolSize: 0 });
      // The sandbox's pip reads its index from the sandbox's environment, as on E2B it would read PyPI.
      const session = await e2b.openSession({ language: "python", isolation: "vm", idleTimeoutMs: 60_000, env: index.env(cache) });
      expect((await session.execute(normalizedRequest({ language: "python", code: "import crtiny" }))).error?.name).toBe("ModuleNotFoundError");
      const streamed: string[] = [];
      const outcome = await session.installPackages!(["crtiny==1.2.3"], { onStdout: (text) => streamed.push(text) });
      expect(outcome.installed).toEqual({ crtiny: "1.2.3" });
      expect(streamed.join("")).toContain("Successfully installed crtiny-1.2.3");
      const used = await session.execute(normalizedRequest({ language: "python", code: "import crtiny\ncrtiny.ANSWER" }));
      expect(used.output).toBe(42);
      await expect(session.installPackages!(["no-such-package-here==1.0"], {})).rejects.toMatchObject({
        kind: "package_install",
        message: expect.stringContaining("no-such-package-here==1.0"),
      });
      await expect(session.installPackages!(["../evil"], {})).rejects.toMatchObject({ kind: "package_install" });
      await session.close();
    } finally {
      await index.close();
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("killed every sandbox it created, sessions included", async () => {
    for (const e2b of runtimes) await e2b.close();
    const created = runtimes.reduce((n, r) => n + r.counts().created, 0);
    const killed = runtimes.reduce((n, r) => n + r.counts().killed, 0);
    expect(created).toBe(server.stats.created);
    expect(killed).toBe(created);
    expect(server.live()).toEqual([]);
  });
});
