import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { normalizedRequest } from "@coderouter/conformance";
import { InfrastructureError, ValidationError, type JsonValue } from "@coderouter/core";
import definition, { type SubprocessRuntime } from "../src/index.js";
import { inodesFor } from "../src/workspace-mount.js";

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
      expect((result.output as number[])[0]).toBeLessThanOrEqual(inodesFor(8));
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

  describe("against a hostile tenant", () => {
    const python = (code: string, inputs: Record<string, JsonValue> = {}) => normalizedRequest({ language: "python", code, inputs, isolation: "sandbox" });

    it("reads and writes nothing outside the workspace through links planted in it, by the files API", async () => {
      const session = await runtime.openSession({ language: "python", isolation: "sandbox" });
      try {
        const planted = await session.execute(
          python(
            "import os\nos.symlink('/usr/lib/os-release', 'file-link')\nos.symlink('/usr', 'dir-link')\nos.symlink('/proc/1/environ', 'proc-link')\ntry:\n    os.link('/usr/lib/os-release', 'hard')\n    hard = True\nexcept OSError:\n    hard = False\nhard",
          ),
        );
        // A hard link needs the same filesystem: the workspace is a tmpfs of its own.
        expect(planted.output).toBe(false);
        for (const path of ["file-link", "dir-link/lib/os-release", "proc-link", "/workspace/../usr/lib/os-release"]) {
          await expect(session.files.read(path)).rejects.toBeInstanceOf(ValidationError);
        }
        await expect(session.files.write("dir-link/planted", "x")).rejects.toBeInstanceOf(ValidationError);
        await expect(session.files.remove("dir-link/lib")).rejects.toBeInstanceOf(ValidationError);
      } finally {
        await session.close();
      }
    });

    // The files handler runs in the worker, beside the session's code, which can replace it.
    it("writes nothing through the files API that the workspace cannot hold: no truncated file, a clear error", async () => {
      const session = await runtime.openSession({ language: "python", isolation: "sandbox" });
      try {
        const refused = await session.files.write("big.bin", new Uint8Array(12 << 20)).catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(ValidationError);
        expect((refused as ValidationError).message).toMatch(/big\.bin was not written: the session's workspace is full/);
        expect((await session.files.list()).map((entry) => entry.name)).not.toContain("big.bin");
        await session.files.write("small.txt", "still writable");
        expect(new TextDecoder().decode(await session.files.read("small.txt"))).toBe("still writable");
      } finally {
        await session.close();
      }
    });

    it("stops a worker whose code forges the shape of a files reply: an InfrastructureError, not a TypeError", async () => {
      const session = await runtime.openSession({ language: "python", isolation: "sandbox" });
      try {
        await session.execute(python("import sys\nsys.modules['coderouter_session'].files = lambda root, request: {'data': {'not': 'base64'}, 'entries': 5}"));
        const refused = await session.files.read("anything").catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(InfrastructureError);
        expect((refused as InfrastructureError).message).toMatch(/sent a files reply without its data/);
        expect((refused as InfrastructureError).isRetryable).toBe(false);
        expect(session.alive).toBe(false);
      } finally {
        await session.close();
      }
      const listing = await runtime.openSession({ language: "python", isolation: "sandbox" });
      try {
        await listing.execute(python("import sys\nsys.modules['coderouter_session'].files = lambda root, request: {'entries': [{'name': 1}]}"));
        await expect(listing.files.list()).rejects.toThrow(/sent a files listing that is not a list of entries/);
      } finally {
        await listing.close();
      }
    });

    it("cannot reach another session's places, by their paths inside or on the host", async () => {
      const victim = await runtime.openSession({ language: "python", isolation: "sandbox" });
      const attacker = await runtime.openSession({ language: "python", isolation: "sandbox" });
      try {
        const secret = "victim-secret-7f3a";
        await victim.execute(python("for d in ('/workspace', '/tmp', '/dev/shm'):\n    open(f'{d}/secret', 'w').write(s)", { s: secret }));
        const hostPaths = mounted().map((line) => line.split(" ")[1]!);
        const result = await attacker.execute(
          python(
            "import os\nseen = []\nfor d in ['/workspace', '/tmp', '/dev/shm'] + paths:\n    try:\n        seen += [n for n in os.listdir(d) if n == 'secret']\n    except OSError:\n        pass\npids = [p for p in os.listdir('/proc') if p.isdigit()]\nseen, len(pids)",
            { paths: hostPaths },
          ),
        );
        // Only its own pid 1 (the worker) in its PID namespace; none of the victim's files anywhere.
        expect(result.output).toEqual([[], 1]);
        expect((await victim.files.read("secret")).toString()).toBe(secret);
      } finally {
        await Promise.all([victim.close(), attacker.close()]);
      }
    });
  });
});
