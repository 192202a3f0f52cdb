import { normalizedRequest as request } from "@coderouter/conformance";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRouter } from "coderouter";
import type { WasmRuntime } from "../src/index.js";
import { testRuntime } from "./test-runtime.js";

let runtime: WasmRuntime;
beforeAll(() => {
  runtime = testRuntime();
});
afterAll(() => runtime.close());

describe("wasm", () => {
  it("restores the cut bridge for the next execution, whatever the last one did to the import system", async () => {
    const tamper = await runtime.execute(request({ code: "import sys\nsys.meta_path.clear()\nsys.modules.pop('os', None)\n'tampered'" }));
    expect(tamper.output).toBe("tampered");
    const probe = "def probe():\n    try:\n        import js\n        return 'bridge open'\n    except ImportError as e:\n        return str(e)\nprobe()";
    const next = await runtime.execute(request({ code: probe }));
    expect(next.output).toMatch(/not available/);
  });

  it("gives each sandbox execution an interpreter of its own; reuses one only below sandbox", async () => {
    const mark = "import builtins\nbuiltins.mark = getattr(builtins, 'mark', 0) + 1\nbuiltins.mark";
    // Below sandbox the interpreter is shared (the fast path), as the README says.
    const first = await runtime.execute(request({ code: mark, isolation: "process" }));
    const second = await runtime.execute(request({ code: mark, isolation: "process" }));
    expect((second.output as number) - (first.output as number)).toBe(1);
    for (let i = 0; i < 2; i++) expect((await runtime.execute(request({ code: mark, isolation: "sandbox" }))).output).toBe(1);
  }, 120_000);

  it("runs QuickJS code in a new runtime every time, whatever the isolation", async () => {
    for (const isolation of ["none", "sandbox"] as const) {
      await runtime.execute(request({ language: "javascript", code: "globalThis.mark = 1; Object.prototype.polluted = 1", isolation }));
      const next = await runtime.execute(request({ language: "javascript", code: "[typeof mark, ({}).polluted ?? null]", isolation }));
      expect(next.output).toEqual(["undefined", null]);
    }
  });

  it("runs JavaScript in QuickJS with Node-style console output and the request's env", async () => {
    const result = await runtime.execute(
      request({ language: "typescript", code: "const n: number = 2\nconsole.log('n =', n, { a: [1] })\nprocess.env.WHO + n", env: { WHO: "qjs" } }),
    );
    expect(result).toMatchObject({ ok: true, output: "qjs2", stdout: "n = 2 { a: [ 1 ] }\n" });
  });

  it("says whether WasmEdge is present, and offers no WASI modules without it", async () => {
    const availability = await runtime.availability();
    expect(availability.available).toBe(true);
    expect(availability.reason).toMatch(/WasmEdge not found \(wasmedge-not-installed\)/);
  });

  it("is never chosen cold, or over a native interpreter, in auto", async () => {
    const router = createRouter({ env: {}, dotenv: false });
    const cold = await router.explain({ language: "python", code: "1", isolation: "sandbox" });
    expect(cold.selected).not.toBe("wasm");
    await router.execute({ language: "python", code: "1", runtime: "wasm" });
    const warm = await router.explain({ language: "python", code: "1" });
    expect(warm.selected).toBe("subprocess");
    const onlyWasm = createRouter({ env: { CODEROUTER_RUNTIMES: "wasm" }, dotenv: false });
    expect((await onlyWasm.execute({ language: "python", code: "6 * 7" })).output).toBe(42);
    await Promise.all([router.close(), onlyWasm.close()]);
  }, 60_000);
});
