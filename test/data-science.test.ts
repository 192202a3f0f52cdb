import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRouter, type Router } from "coderouter";
import type { ExecutionResult } from "@coderouter/core";
import { LocalE2B } from "./e2b-server/server.js";

/**
 * Seeds 000 and 003 run pandas, numpy and matplotlib. Where the local sandbox's Python has them
 * (/usr/bin/python3 with Debian's python3-numpy, -pandas, -matplotlib), a chart made locally comes
 * back in the same shape as one made on E2B: an image/png artifact, and display() output as
 * artifacts by the object's _repr_*_ methods.
 */

const PYTHON = "/usr/bin/python3";
const CHART = `
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

df = pd.DataFrame({"x": np.arange(5), "y": np.arange(5) ** 2})
plt.plot(df["x"], df["y"])
plt.title("squares")

class Note:
    def _repr_html_(self):
        return "<b>made by display()</b>"

display(Note())
int(df["y"].sum())
`;

const e2b = new LocalE2B({ contextDelayMs: 100 });
let router: Router;
beforeAll(async () => {
  await e2b.start();
  router = createRouter({ env: { ...e2b.env(), PYTHON_BIN: PYTHON, SUBPROCESS_SANDBOX_PYTHON_BIN: PYTHON }, dotenv: false });
});
afterAll(async () => {
  await router.close();
  await e2b.close();
});

function shape(result: ExecutionResult) {
  expect(result).toMatchObject({ ok: true, output: 30 });
  const png = result.artifacts!.filter((a) => a.mimeType === "image/png");
  expect(png).toHaveLength(1);
  expect(png[0]!.encoding).toBe("base64");
  expect(Buffer.from(png[0]!.data, "base64").subarray(1, 4).toString()).toBe("PNG");
  expect(result.artifacts).toContainEqual({ mimeType: "text/html", data: "<b>made by display()</b>", encoding: "utf8" });
  return result.artifacts!.map((a) => a.mimeType).filter((m) => !m.startsWith("application/vnd.e2b"));
}

describe("a matplotlib chart and display() locally and on E2B", () => {
  it("comes back from subprocess, E2B and E2B_TEMPLATE=base with the same artifacts", async () => {
    const local = await router.execute({ language: "python", code: CHART, runtime: "subprocess", timeoutMs: 60_000 });
    expect(local.stderr).toBe("");
    const sandboxed = await router.execute({ language: "python", code: CHART, runtime: "subprocess", isolation: "sandbox", timeoutMs: 60_000 });
    const cloud = await router.execute({ language: "python", code: CHART, runtime: "e2b", timeoutMs: 60_000 });
    const base = createRouter({ env: { ...e2b.env(), E2B_TEMPLATE: "base" }, dotenv: false });
    try {
      const commands = await base.execute({ language: "python", code: CHART, runtime: "e2b", timeoutMs: 60_000 });
      const kinds = shape(local);
      expect(sandboxed.stderr).toBe("");
      expect(shape(sandboxed)).toEqual(kinds);
      expect(shape(cloud).sort()).toEqual([...kinds].sort());
      expect(shape(commands)).toEqual(kinds);
    } finally {
      await base.close();
    }
  }, 180_000);

  it("leaves a run that imports nothing of the kind without artifacts", async () => {
    const result = await router.execute({ language: "python", code: "sum(range(4))", runtime: "subprocess" });
    expect(result).toMatchObject({ ok: true, output: 6 });
    expect(result.artifacts).toBeUndefined();
  });
});

describe("the router's dependency check", () => {
  it("asks the interpreter that would run the code: the sandbox's for sandboxed runs", async () => {
    const host = createRouter({ env: { PYTHON_BIN: "python3", SUBPROCESS_SANDBOX_PYTHON_BIN: PYTHON, CODEROUTER_RUNTIMES: "subprocess" }, dotenv: false });
    try {
      const decision = await host.explain({ language: "python", code: "import matplotlib", isolation: "sandbox" });
      const subprocess = decision.candidates.find((c) => c.runtime === "subprocess");
      expect(subprocess?.reason).not.toContain("cannot import");
    } finally {
      await host.close();
    }
  });
});
