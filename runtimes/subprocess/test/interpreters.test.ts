import { mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { defaultSandboxPython } from "../src/interpreters.js";

const home = mkdtempSync(join(tmpdir(), "coderouter-interpreters-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("the sandbox's default Python", () => {
  it("is the plain mode's python3 when it is a system interpreter the sandbox can run", () => {
    const bin = join(home, "system-bin");
    rmSync(bin, { recursive: true, force: true });
    symlinkSync("/usr/bin", bin);
    expect(defaultSandboxPython(undefined, bin)).toBe(realpathSync("/usr/bin/python3"));
    expect(defaultSandboxPython("/usr/bin/python3")).toBe(realpathSync("/usr/bin/python3"));
  });

  it("falls back to /usr/bin/python3 for an interpreter under a home directory (pyenv, asdf)", () => {
    const shim = join(home, "python3");
    writeFileSync(shim, "#!/bin/sh\n", { mode: 0o755 });
    expect(defaultSandboxPython(undefined, home)).toBe("/usr/bin/python3");
    expect(defaultSandboxPython(shim)).toBe("/usr/bin/python3");
  });
});
