import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { normalizedRequest } from "@coderouter/conformance";
import definition, { type SubprocessRuntime } from "../src/index.js";
import { sessionInodes } from "../src/workspace-mount.js";

// A sandboxed session's /workspace is shared by its languages' sandboxes, yet bounded as /work is.

const runtime = definition.create(definition.settings.parse({ sandboxDiskMb: 8 }), { defaultTimeoutMs: 30_000, maxOutputBytes: 1 << 20 }) as SubprocessRuntime;
afterAll(() => runtime.close());

const mounted = () =>
  readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .filter((line) => line.startsWith("coderouter-workspace "));

describe("a sandboxed session's workspace", () => {
  it("is bounded by SUBPROCESS_SANDBOX_DISK_MB however many files fill it, from any language, and unmounted on close", async () => {
    const before = mounted().length;
    const session = await runtime.openSession({ language: "python", isolation: "sandbox" });
    expect(mounted()).toHaveLength(before + 3);
    const python = await session.execute(
      normalizedRequest({
        language: "python",
        code: "import errno\nwritten = 0\ntry:\n    for i in range(100):\n        with open(f'fill{i}', 'wb') as f:\n            f.write(b'x' * 1048576)\n        written += 1\nexcept OSError as e:\n    failed = e.errno == errno.ENOSPC\nwritten, failed",
        isolation: "sandbox",
      }),
    );
    expect(python.output).toEqual([expect.any(Number), true]);
    // 8 MiB holds eight files of 1 MiB, and not the ninth.
    expect((python.output as number[])[0]).toBeLessThanOrEqual(8);
    const node = await session.execute(
      normalizedRequest({
        language: "javascript",
        code: "let code = 'written';\ntry { require('fs').writeFileSync('more', Buffer.alloc(1 << 20)); } catch (e) { code = e.code; }\ncode",
        isolation: "sandbox",
      }),
    );
    expect(node.output).toBe("ENOSPC");
    await session.close();
    expect(mounted()).toHaveLength(before);
  });

  // Empty files take none of the size, but each inode and name costs the host's kernel memory
  // outside any cap: 300,000 of them once pinned 380 MB in an 8 MB workspace, and as many in the
  // python worker's /tmp and /dev/shm, for the session's life.
  it.each(["/workspace", "/tmp", "/dev/shm"])("holds a bounded number of files in %s, so empty ones cannot pin the host's kernel memory", async (place) => {
    const session = await runtime.openSession({ language: "python", isolation: "sandbox" });
    try {
      const result = await session.execute(
        normalizedRequest({
          language: "python",
          code: "import errno, os\nmade = 0\ntry:\n    for i in range(200000):\n        os.close(os.open(f'{place}/e{i}', os.O_CREAT | os.O_WRONLY))\n        made += 1\nexcept OSError as e:\n    failed = e.errno\nmade, failed == errno.ENOSPC",
          inputs: { place },
          isolation: "sandbox",
          timeoutMs: 60_000,
        }),
      );
      expect(result.error, JSON.stringify(result.error)).toBeUndefined();
      expect(result.output).toEqual([expect.any(Number), true]);
      expect((result.output as number[])[0]).toBeLessThanOrEqual(sessionInodes(8));
    } finally {
      await session.close();
    }
  });

  it("shares /tmp between the session's languages and bash calls, and unmounts every place on close", async () => {
    const before = mounted().length;
    const session = await runtime.openSession({ language: "python", isolation: "sandbox" });
    expect(mounted()).toHaveLength(before + 3);
    await session.execute(normalizedRequest({ language: "python", code: "open('/tmp/from-python', 'w').write('py')", isolation: "sandbox" }));
    const bash = await session.execute(
      normalizedRequest({ language: "bash", code: "cat /tmp/from-python; echo -n sh > /dev/shm/from-bash", isolation: "sandbox" }),
    );
    expect(bash.stdout).toBe("py");
    const node = await session.execute(
      normalizedRequest({ language: "javascript", code: "require('fs').readFileSync('/dev/shm/from-bash', 'utf8')", isolation: "sandbox" }),
    );
    expect(node.output).toBe("sh");
    await session.close();
    expect(mounted()).toHaveLength(before);
  });
});
