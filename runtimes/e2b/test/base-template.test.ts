import { normalizedRequest as request } from "@coderouter/conformance";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRouter } from "coderouter";
import type { E2BRuntime } from "../src/index.js";
import { LocalE2B, runtimeFor } from "./local.js";

/** E2B_TEMPLATE=base, the seeds' default: no code interpreter, code runs through envd's process API. */

const server = new LocalE2B();
const opened: E2BRuntime[] = [];
beforeAll(() => server.start());
afterAll(() => server.close());
afterEach(async () => {
  for (const runtime of opened.splice(0)) await runtime.close();
  expect(server.live()).toEqual([]);
});

function runtime(): E2BRuntime {
  const r = runtimeFor(server, { template: "base" });
  opened.push(r);
  return r;
}

describe("E2B_TEMPLATE=base", () => {
  it("is available, and runs Python and JavaScript through the router with the usual result shape", async () => {
    const router = createRouter({ env: { ...server.env(), E2B_TEMPLATE: "base" }, dotenv: false });
    try {
      expect((await router.runtimes()).find((s) => s.id === "e2b")).toMatchObject({ available: true });
      const py = await router.execute({ language: "python", runtime: "e2b", code: "print('hi')\ninputs['n'] * 2", inputs: { n: 21 } });
      expect(py).toMatchObject({ ok: true, runtime: "e2b", output: 42, stdout: "hi\n" });
      expect(py.metadata.sandboxId).toMatch(/^i/);
      const js = await router.execute({ language: "javascript", runtime: "e2b", code: "console.error('warn'); [1, 2].map((x) => x * 3)" });
      expect(js).toMatchObject({ ok: true, output: [3, 6], stderr: "warn\n" });
    } finally {
      await router.close();
    }
  });

  it("streams output while the command runs", async () => {
    const lines: string[] = [];
    let seenBeforeEnd = false;
    const result = await runtime().execute(
      request({
        code: "import time\nprint('first', flush=True)\ntime.sleep(1)\nprint('second')",
        onStdout: (chunk) => {
          lines.push(chunk);
          if (chunk.includes("first")) seenBeforeEnd = true;
        },
      }),
    );
    expect(result).toMatchObject({ ok: true, stdout: "first\nsecond\n" });
    expect(seenBeforeEnd).toBe(true);
    expect(lines.length).toBeGreaterThanOrEqual(2);
  });

  it("gives the request's environment to the process as data, quotes and newlines included", async () => {
    const secret = "it's\n$(echo injected)";
    const result = await runtime().execute(request({ code: "import os\nos.environ['TOKEN']", env: { TOKEN: secret } }));
    expect(result).toMatchObject({ ok: true, output: secret });
  });

  it("ends code that runs too long, and kills its sandbox", async () => {
    const r = runtime();
    const result = await r.execute(request({ language: "javascript", code: "while (true) {}", timeoutMs: 800 }));
    expect(result.error?.kind).toBe("timeout");
    expect(r.counts().created).toBe(1);
  });

  it("reports the code's own exception with its traceback", async () => {
    const result = await runtime().execute(request({ code: "def f():\n    raise ValueError('bad')\nf()" }));
    expect(result.error).toMatchObject({ kind: "runtime", name: "ValueError", message: "bad" });
    expect(result.error?.traceback).toContain("line 2");
  });
});
