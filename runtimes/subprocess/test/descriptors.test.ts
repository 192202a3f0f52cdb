import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";

// The attack: whatever started the host (a supervisor, a shell's `5<secrets`) left it a descriptor
// without close-on-exec. Code run for a tenant reads every descriptor it has, and reopens each
// through /proc/self/fd, looking for the host's secret.
const SECRET = "host-secret-7f3a9c1e";
const READ_EVERY_FD = {
  python: `import os
found = []
def reopen(fd):
    handle = os.open("/proc/self/fd/" + fd, os.O_RDONLY | os.O_NONBLOCK)
    try:
        return os.read(handle, 4096)
    finally:
        os.close(handle)
for fd in os.listdir("/proc/self/fd"):
    for read in (lambda: os.pread(int(fd), 4096, 0), lambda: reopen(fd)):
        try:
            found.append(read().decode(errors="replace"))
        except Exception:
            pass
found`,
  javascript: `const fs = require("fs")
const found = []
for (const fd of fs.readdirSync("/proc/self/fd")) {
  try { const b = Buffer.alloc(4096); const n = fs.readSync(Number(fd), b, 0, 4096, 0); found.push(b.subarray(0, n).toString()) } catch {}
  try {
    const handle = fs.openSync("/proc/self/fd/" + fd, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
    try { const b = Buffer.alloc(4096); found.push(b.subarray(0, fs.readSync(handle, b, 0, 4096, null)).toString()) } finally { fs.closeSync(handle) }
  } catch {}
}
found`,
};

it("keeps a descriptor the host inherited out of every child, one-shot and fork-server, plain and sandboxed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "coderouter-fd-test-"));
  const file = join(dir, "secret");
  writeFileSync(file, SECRET);
  const secretFd = openSync(file, "r");
  const runtime = new URL("../dist/index.js", import.meta.url).href;
  const cases = (["none", "sandbox"] as const).flatMap((isolation) =>
    (["python", "javascript"] as const).flatMap((language) => Array(2).fill({ language, isolation, code: READ_EVERY_FD[language] })),
  );
  const script = `
    import definition from ${JSON.stringify(runtime)};
    const rt = definition.create(definition.settings.parse({}), { defaultTimeoutMs: 30000, maxOutputBytes: 1 << 20 });
    const outputs = [];
    for (const c of ${JSON.stringify(cases)}) {
      const r = await rt.execute({ ...c, inputs: {}, timeoutMs: 20000, maxOutputBytes: 1 << 20 });
      outputs.push(r.ok ? r.output : r.error);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await rt.close();
    console.log(JSON.stringify(outputs));
  `;
  try {
    // The secret is fd 200 of the host, inherited without close-on-exec (high, as a supervisor's
    // descriptors usually are: node's own would take the low numbers in a child).
    const stdio = ["ignore", "pipe", "inherit", ...Array(197).fill("ignore"), secretFd] as ("ignore" | "pipe" | "inherit" | number)[];
    const host = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio });
    let out = "";
    host.stdout!.on("data", (chunk) => (out += chunk));
    const code = await new Promise((resolve) => host.on("close", resolve));
    expect(code).toBe(0);
    const outputs = JSON.parse(out) as unknown[];
    expect(outputs).toHaveLength(cases.length);
    for (const output of outputs) expect(Array.isArray(output), JSON.stringify(output)).toBe(true);
    expect(out).not.toContain(SECRET);
  } finally {
    closeSync(secretFd);
    rmSync(dir, { recursive: true, force: true });
  }
}, 400_000);
