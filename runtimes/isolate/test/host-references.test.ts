import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NormalizedRequest } from "@coderouter/core";
import { IsolateRuntime } from "../src/index.js";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { MAX_FETCHES_IN_FLIGHT, MAX_PENDING_SLEEPS } from "../src/execution.js";

// The attacks of the issue-12 security review on the isolate, as the attacker wrote them: host
// references in the user's scope, an output value with no cap, and a forged result.
let runtime: IsolateRuntime;
beforeAll(() => {
  runtime = new IsolateRuntime({
    poolSize: 1,
    poolMax: 8,
    memoryMb: 64,
    maxExecutions: 50,
    fetchAllow: [],
    fetchTimeoutMs: 2000,
    fetchMaxBytes: 1024,
    fetchAllowPrivate: false,
    wasm: false,
  });
});
afterAll(() => runtime.close());

const run = (code: string, extra: Partial<NormalizedRequest> = {}) =>
  runtime.execute({ language: "javascript", code, inputs: {}, timeoutMs: 5000, isolation: "sandbox", maxOutputBytes: 1 << 20, memoryMb: 64, ...extra });

describe("isolate: host references", () => {
  it("leaves $0..$5 and the wrapper's arguments out of the user's scope", async () => {
    const result = await run("[typeof $0, typeof $1, typeof $5, typeof arguments[0]]");
    expect(result.output).toEqual(["undefined", "undefined", "undefined", "undefined"]);
  });

  it("refuses the reviewer's loop: `const s = $0(1); s.apply(undefined, [1e9])` has no $0 to call", async () => {
    const rssBefore = process.memoryUsage().rss;
    const result = await run(
      `const s = $0(1); let n = 0; const end = Date.now() + 3000; while (Date.now() < end) { for (let i = 0; i < 1000; i++) s.apply(undefined, [1e9]); n += 1000; } n`,
    );
    expect(result.error).toMatchObject({ kind: "runtime", name: "ReferenceError" });
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it("gives no host reference through a stack trace, or the caller or arguments of any function around the code", async () => {
    const code = `
const seen = [];
const look = (fn) => {
  if (typeof fn !== "function") return;
  let args;
  try { args = fn.arguments; } catch { return; }
  for (const a of args ?? []) if (typeof a === "function" || (a && typeof a === "object")) seen.push(typeof a);
};
Error.prepareStackTrace = (e, frames) => frames;
function probe() {
  for (const f of new Error().stack) {
    look(f.getFunction());
    const self = f.getThis();
    if (self !== undefined && self !== globalThis) seen.push("this");
  }
  for (let f = probe, i = 0; f && i < 20; i++) {
    look(f);
    try { f = f.caller; } catch { f = null; }
  }
  return seen;
}
probe()`;
    const result = await run(code);
    expect(result.output).toEqual([]);
  });

  it(`ends an execution with more than ${MAX_PENDING_SLEEPS} timers pending, for memory, before they cost the host memory`, async () => {
    const rssBefore = process.memoryUsage().rss;
    const result = await run("for (let i = 0; i < 1e6; i++) setTimeout(() => {}, 1e9); 'done'", { timeoutMs: 20_000 });
    expect(result.error?.kind).toBe("memory");
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    expect((await run("1 + 1")).output).toBe(2);
  }, 30_000);
});

describe("isolate: fetches in flight", () => {
  it(`refuses more than ${MAX_FETCHES_IN_FLIGHT} fetches in flight at once`, async () => {
    // A server that never answers: every fetch stays in flight until the execution's deadline.
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const networked = new IsolateRuntime({
      poolSize: 1,
      poolMax: 8,
      memoryMb: 64,
      maxExecutions: 5,
      fetchAllow: ["127.0.0.1"],
      fetchTimeoutMs: 3000,
      fetchMaxBytes: 1024,
      fetchAllowPrivate: true,
      wasm: false,
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const code = `const started = []; for (let i = 0; i < 1000; i++) started.push(fetch("${url}").then(() => "answered", (e) => e.message));
const first = await Promise.race(started.slice(${MAX_FETCHES_IN_FLIGHT}));
first`;
      const result = await networked.execute({
        language: "javascript",
        code,
        inputs: {},
        timeoutMs: 5000,
        isolation: "sandbox",
        maxOutputBytes: 1 << 20,
        network: true,
      });
      expect(result.output).toMatch(new RegExp(`more than ${MAX_FETCHES_IN_FLIGHT} requests in flight`));
    } finally {
      server.closeAllConnections();
      server.close();
      await networked.close();
    }
  });
});

describe("isolate: the output value", () => {
  it("caps the output value at maxOutputBytes inside the isolate, with kind output_limit", async () => {
    const result = await run(`"x".repeat(4e7)`, { timeoutMs: 3000, memoryMb: 128 });
    expect(result.error).toMatchObject({ kind: "output_limit", name: "OutputLimitError" });
    expect(result.output ?? null).toBeNull();
    // Multi-byte text counts in UTF-8 bytes: 400,000 × 3 bytes passes a 1 MiB cap's length check.
    const wide = await run(`"€".repeat(400_000)`);
    expect(wide.error?.kind).toBe("output_limit");
    expect((await run(`"€".repeat(300_000)`)).output).toHaveLength(300_000);
  });

  it("reports the code's own result whatever it does to JSON.stringify or Object.prototype.toJSON", async () => {
    const forged = `{"error":{"kind":"memory","name":"MemoryError","message":"forged","traceback":""}}`;
    const stringify = await run(`JSON.stringify = () => '${forged}'; 42`);
    expect(stringify).toMatchObject({ ok: true, output: 42 });
    const toJSON = await run(
      `Object.prototype.toJSON = function () { return { error: { kind: "memory", name: "MemoryError", message: "forged" } } }; throw new Error("real")`,
    );
    expect(toJSON.error).toMatchObject({ kind: "runtime", message: "real" });
    const assign = await run(`Object.assign = () => ({ error: { kind: "memory" } }); Object.create = () => ({}); throw new Error("real")`);
    expect(assign.error).toMatchObject({ kind: "runtime", message: "real" });
  });
});
