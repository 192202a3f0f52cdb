import { afterAll, describe, expect, it } from "vitest";
import { createRouter } from "../src/index.js";

const router = createRouter({ env: {}, settings: { enabledRuntimes: ["subprocess", "isolate"] } });
afterAll(() => router.close());

const WAYS = [/installPackages\(\["(requests_absent|left_pad_absent)"\]\)/, /packages: \["(requests_absent|left_pad_absent)"\]/, /E2B_API_KEY/];

describe("a missing module's error", () => {
  it("names the module and the ways out for Python on subprocess, keeping the interpreter's message first", async () => {
    const result = await router.execute({ language: "python", code: "import requests_absent", runtime: "subprocess" });
    expect(result.error?.name).toBe("ModuleNotFoundError");
    expect(result.error?.message).toMatch(/^No module named 'requests_absent'\nthe module "requests_absent" is not installed on the subprocess runtime/);
    for (const way of WAYS) expect(result.error?.message).toMatch(way);
  });

  it("does the same for Node's require and import", async () => {
    for (const code of ["require('left_pad_absent')", "import pad from 'left_pad_absent'; pad"]) {
      const result = await router.execute({ language: "javascript", code, runtime: "subprocess" });
      expect(result.error?.message).toContain('the module "left_pad_absent" is not installed on the subprocess runtime');
      for (const way of WAYS) expect(result.error?.message).toMatch(way);
    }
  });

  it("says the isolate has no module loader, and points to a subprocess session", async () => {
    const result = await router.execute({ language: "javascript", code: "const pad = require('left_pad_absent'); pad('x')", runtime: "isolate" });
    expect(result.error?.message).toContain('the isolate runtime has no module loader, so "left_pad_absent" cannot be imported there');
    expect(result.error?.message).toContain('runtime: "subprocess"');
  });

  it("gives the hint in a session too, and leaves other errors alone", async () => {
    const session = await router.openSession({ language: "python" });
    expect((await session.execute("from requests_absent import get")).error?.message).toMatch(WAYS[0]!);
    expect((await session.execute("1 / 0")).error?.message).toBe("division by zero");
    await session.close();
  });
});
