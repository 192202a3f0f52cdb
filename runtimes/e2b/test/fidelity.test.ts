import { normalizedRequest as request } from "@coderouter/conformance";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { CHART_MIME } from "../src/artifacts.js";
import type { E2BRuntime } from "../src/index.js";
import { LocalE2B, runtimeFor } from "./local.js";

/**
 * What E2B's real interpreter does that a naive client trips over, each reproduced by the local
 * server: the environment prepended to a context's first cell, ijavascript's display protocol,
 * env_vars spliced into the code unquoted, the kernel's own ~790 MB of address space, the inline
 * backend's figures, and executions abandoned on a limit.
 */

const server = new LocalE2B({ contextDelayMs: 100 });
const opened: E2BRuntime[] = [];
beforeAll(() => server.start());
afterAll(() => server.close());
afterEach(async () => {
  for (const runtime of opened.splice(0)) await runtime.close();
  expect(server.live()).toEqual([]);
});

function runtime(): E2BRuntime {
  const r = runtimeFor(server);
  opened.push(r);
  return r;
}

describe("the JavaScript kernel (ijavascript with E2B's nel)", () => {
  it("runs JavaScript and TypeScript in a new context, whose first cell gets the sandbox's environment prepended", async () => {
    const r = runtime();
    const js = await r.execute(request({ language: "javascript", code: "const n = 20; n + 1" }));
    expect(js).toMatchObject({ ok: true, output: 21 });
    const ts = await r.execute(request({ language: "typescript", code: "const n: number = 40; ({ sum: n + 2, sandbox: process.env.E2B_SANDBOX })" }));
    expect(ts).toMatchObject({ ok: true, output: { sum: 42, sandbox: "true" } });
  });

  it("returns outputs that are not JSON-safe by coderouter's rules, through _toMime", async () => {
    const result = await runtime().execute(request({ language: "javascript", code: "({ when: new Date(0), big: 2n ** 70n, list: new Set([1]) })" }));
    expect(result.ok).toBe(true);
    expect(result.output).toMatchObject({ when: "1970-01-01T00:00:00.000Z" });
  });
});

describe("the request's environment", () => {
  const secret = "it's a\nprint('injected')\nsecret";

  for (const language of ["python", "javascript"] as const) {
    it(`reaches ${language} code exactly, quotes and newlines included, and never the cell's source`, async () => {
      const r = runtime();
      const code = language === "python" ? "import os\nos.environ['TOKEN']" : "process.env.TOKEN";
      const before = server.cells.length;
      const result = await r.execute(request({ language, code, env: { TOKEN: secret } }));
      expect(result).toMatchObject({ ok: true, output: secret, stdout: "" });
      expect(server.cells.slice(before).join("\n")).not.toContain("secret");
      // Put back afterwards: the next execution in the sandbox does not see it.
      const after = await r.execute(request({ language, code: language === "python" ? "import os\nos.environ.get('TOKEN')" : "process.env.TOKEN ?? null" }));
      expect(after).toMatchObject({ ok: true, output: null });
    });
  }
});

describe("data science in the Python kernel", () => {
  it("loads numpy, pandas and matplotlib under the default memory limit, beside the kernel's own footprint", async () => {
    const code = "import numpy as np, pandas as pd\nimport matplotlib.pyplot as plt\nfloat(np.linalg.inv(np.eye(3)).sum()) + len(pd.DataFrame({'a': [1, 2]}))";
    const result = await runtime().execute(request({ code, timeoutMs: 60_000 }));
    expect(result).toMatchObject({ ok: true, output: 5 });
  });

  it("still bounds what the code allocates by memoryMb", async () => {
    const result = await runtime().execute(request({ code: "x = bytearray(600 * 1024 * 1024)\nlen(x)", memoryMb: 256 }));
    expect(result.ok).toBe(false);
    expect(result.error?.kind).toBe("memory");
  });

  it("returns a figure as an image/png artifact with E2B's chart data, without show()", async () => {
    const code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2], label='series')\nplt.title('sales')\n'done'";
    const result = await runtime().execute(request({ code, timeoutMs: 60_000 }));
    expect(result).toMatchObject({ ok: true, output: "done" });
    const png = result.artifacts?.find((a) => a.mimeType === "image/png");
    expect(png?.encoding).toBe("base64");
    expect(Buffer.from(png!.data, "base64").subarray(1, 4).toString()).toBe("PNG");
    const chart = JSON.parse(result.artifacts!.find((a) => a.mimeType === CHART_MIME)!.data);
    expect(chart).toMatchObject({
      type: "line",
      title: "sales",
      elements: [
        {
          label: "series",
          points: [
            [1, 3],
            [2, 1],
            [3, 2],
          ],
        },
      ],
    });
  });
});

describe("an execution ended by a limit", () => {
  it("closes its stream, so the interpreter stops waiting on it, and removes its context", async () => {
    const r = runtime();
    const aborted = server.stats.streamsAborted;
    const deleted = server.stats.contextsDeleted;
    // The execution's cell (not a context's prelude) is accepted and never answered.
    server.faults.hangExecution = "__coderouter_run(";
    const result = await r.execute(request({ code: "1", timeoutMs: 500 }));
    expect(result.error?.kind).toBe("timeout");
    await vi.waitFor(() => expect(server.stats.streamsAborted).toBe(aborted + 1));
    await r.close();
    expect(server.stats.contextsDeleted).toBe(deleted + 1);
  });

  it("removes the context of code the caller aborted, which stops the kernel running it", async () => {
    const r = runtime();
    const deleted = server.stats.contextsDeleted;
    const controller = new AbortController();
    const running = r.execute(request({ code: "import time\ntime.sleep(60)", signal: controller.signal }));
    setTimeout(() => controller.abort(), 1500);
    expect((await running).error?.kind).toBe("killed");
    await r.close();
    expect(server.stats.contextsDeleted).toBe(deleted + 1);
  });
});
