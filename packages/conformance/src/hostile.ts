import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runnersDir, type NormalizedRequest, type Runtime, type RuntimeResult, type RuntimeSession, type SessionRuntime } from "@coderouter/core";
import { expectNoneLeft, processesWith } from "./processes.js";
import * as A from "./hostile-snippets.js";

export interface HostileOptions {
  language: "python" | "javascript";
  /** The suite's runtime, and a way to make a fresh one (for close() and planted files). */
  runtime: () => Runtime;
  create: () => Runtime | Promise<Runtime>;
  request: Partial<NormalizedRequest>;
  /** The runtime claims "sandbox" (an OS sandbox): the whole section; otherwise the process-level part. */
  sandbox: boolean;
}

const MiB = 1024 * 1024;

/**
 * What a determined tenant tries once the first escapes failed (issue 11): take over the warm
 * server it was forked from, harm the host through the channels it can write, leave files or
 * processes for the next execution, outgrow its limits. Each test is the attack itself; each must
 * fail, one-shot and in a session, and the host must go on serving.
 */
export function hostileTenantSection(options: HostileOptions): void {
  const { language } = options;
  const base = (extra: Partial<NormalizedRequest>): NormalizedRequest => ({
    language,
    code: "",
    inputs: {},
    timeoutMs: 15_000,
    isolation: "none",
    maxOutputBytes: MiB,
    ...options.request,
    ...extra,
  });
  const oneShot = (code: string, extra: Partial<NormalizedRequest> = {}) => options.runtime().execute(base({ ...extra, code }));
  const sessions: RuntimeSession[] = [];
  afterAll(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
  });
  /** A fresh session per attack: what one execution does to its own session is the attack. */
  const inSession = async (code: string, extra: Partial<NormalizedRequest> = {}) => {
    const runtime = options.runtime() as SessionRuntime;
    const session = await runtime.openSession({
      language,
      isolation: base({}).isolation,
      ...(extra.memoryMb ? { memoryMb: extra.memoryMb } : {}),
    });
    sessions.push(session);
    const result = await session.execute(base({ ...extra, code }));
    return { result, session };
  };
  const modes = [
    { mode: "one-shot", run: oneShot, next: (code: string) => oneShot(code) },
    {
      mode: "session",
      run: async (code: string, extra: Partial<NormalizedRequest> = {}) => (await inSession(code, extra)).result,
      next: (code: string) => oneShot(code),
    },
  ] as const;
  const expectFine = (result: RuntimeResult) => {
    expect(result.error, JSON.stringify(result.error)).toBeUndefined();
    expect(result.output).toBe(2);
  };

  describe("hostile tenant", () => {
    // Every runtime this section runs against (an OS sandbox, or local processes) keeps sessions.
    describe.each(modes)("$mode", ({ mode, run, next }) => {
      if (options.sandbox) {
        it("writes garbage to the wrapper's channel (fd 3): a protocol error, and the host goes on", async () => {
          const result = await run(A.GARBAGE_ON_FD3[language]);
          expect(result.ok).toBe(false);
          expect(result.error?.name).toBe("ProtocolError");
          expectFine(await next("1 + 1"));
        });

        it("forges control messages out of order on fd 3 (ready, reply, a fence, a bad result)", async () => {
          const result = await run(A.FORGED_ON_FD3[language]);
          expect(result.ok).toBe(false);
          expect(result.error?.name).toBe("ProtocolError");
          expectFine(await next("1 + 1"));
        });

        if (language === "python") {
          it("attaches to the server with ptrace, writes its memory through /proc, copies its fds with pidfd_getfd", async () => {
            const result = await run(A.TAKE_OVER_SERVER);
            expect(result.error, JSON.stringify(result.error)).toBeUndefined();
            expect(result.output).toEqual([]);
          });

          it("calls what the seccomp filter denies (namespaces, mount, keyrings, bpf, perf, userfaultfd, io_uring, SysV IPC)", async () => {
            const result = await run(A.DENIED_CALLS);
            expect(result.error, JSON.stringify(result.error)).toBeUndefined();
            expect(result.output).toEqual([]);
          });
        } else {
          it("reads the server's /proc/<pid>/mem, environ and fds", async () => {
            const result = await run(A.PROC_OF_SERVER_JS);
            expect(result.error, JSON.stringify(result.error)).toBeUndefined();
            expect(result.output).toEqual([]);
          });
        }

        it("makes a nested user namespace", async () => {
          const result = await run(A.NESTED_USER_NAMESPACE[language]);
          expect(result.error, JSON.stringify(result.error)).toBeUndefined();
          expect(result.output).not.toBe("made");
        });

        it("fills /dev/shm: it is bounded, and the next execution is fine", async () => {
          const result = await run(A.FILL_DEV_SHM[language], { timeoutMs: 30_000 });
          expect(result.error, JSON.stringify(result.error)).toBeUndefined();
          expect(result.output).toBeLessThan(1024);
          expectFine(await next("1 + 1"));
        });

        // tmpfs's default inode count is half the host's RAM pages: one JavaScript execution once
        // made 1.1 million empty files in an 8 MB /tmp in 25 s, 1.4 GB of the host's kernel memory.
        it("makes empty files in every writable place: a bounded number, and the next execution is fine", async () => {
          const result = await run(A.EMPTY_FILES[language], { timeoutMs: 60_000 });
          expect(result.error, JSON.stringify(result.error)).toBeUndefined();
          const [made, refused] = result.output as [number, boolean[]];
          expect(refused).toEqual([true, true, true]);
          expect(made).toBeLessThan(200_000);
          expectFine(await next("1 + 1"));
        });

        it("sees no descriptor but 0-3 and its own", async () => {
          const result = await run(A.LIST_DESCRIPTORS[language]);
          expect(result.error, JSON.stringify(result.error)).toBeUndefined();
          expect(result.output).toEqual([]);
        });

        if (mode === "one-shot") {
          it("leaves files in /work, /tmp and /dev/shm for the next execution: each starts empty", async () => {
            for (let i = 0; i < 4; i++) {
              const result = await run(A.LEAVE_AND_LOOK[language]);
              expect(result.error, JSON.stringify(result.error)).toBeUndefined();
              expect(result.output).toEqual([[], [], []]);
            }
          });

          if (language === "python") {
            it("scans its own memory, a copy of the fork-server's, for earlier executions' inputs and code", async () => {
              // Served by a warm fork-server (the child's parent is the sandbox's pid 1), when the runtime keeps them.
              for (let i = 0; i < 40 && (await run("import os\nos.getppid()")).output !== 1; i++) await new Promise((r) => setTimeout(r, 100));
              const secrets = Array.from({ length: 3 }, () => randomBytes(16).toString("hex"));
              for (const secret of secrets) {
                expectFine(await run(`# LEAK:${secret}\nsecret = inputs["secret"]\n1 + 1`, { inputs: { secret: `LEAK:${secret}` } }));
              }
              const result = await run(A.SCAN_FOR_EARLIER_INPUTS, { timeoutMs: 30_000 });
              expect(result.error, JSON.stringify(result.error)).toBeUndefined();
              expect((result.output as [number, string[]])[1].filter((hex) => secrets.includes(hex))).toEqual([]);
            });
          }

          it("writes a message past the host's limit on fd 3: cut, never read whole", async () => {
            const result = await run(A.OVERSIZED_ON_FD3[language], { timeoutMs: 60_000 });
            expect(result.ok).toBe(false);
            expect(["output_limit", "runtime"]).toContain(result.error?.kind);
            expectFine(await next("1 + 1"));
          });

          it("stops its server and ignores every signal: the host still ends it at the timeout", async () => {
            const started = Date.now();
            const result = await run(A.STALL_TIMEOUT[language], { timeoutMs: 1500 });
            expect(result.error?.kind).toBe("timeout");
            expect(Date.now() - started).toBeLessThan(10_000);
            expectFine(await next("1 + 1"));
          });

          it("sends inputs nested 1,200 deep: refused with a ValidationError, the warm workers untouched", async () => {
            let deep: unknown = 1;
            for (let i = 0; i < 1200; i++) deep = [deep];
            await expect(run("1 + 1", { inputs: { deep } as never })).rejects.toMatchObject({ kind: "validation" });
            expectFine(await next("1 + 1"));
          });

          it("runs under a wrapper another local user planted at the old shared path: never", async () => {
            const planted = plantRunners();
            const runtime = await options.create();
            try {
              const result = await runtime.execute(base({ code: "1 + 1" }));
              expectFine(result);
            } finally {
              await runtime.close();
              rmSync(planted, { recursive: true, force: true });
            }
          });
        }
      }

      it("starts setsid, double-forked and detached daemons: all die when the execution ends", async () => {
        const marker = markerSeconds();
        const result = await run(A.DAEMONS[language](marker));
        expect(result.error, JSON.stringify(result.error)).toBeUndefined();
        await expectNoneLeft(marker, 10_000);
      });

      it("starts daemons and then loops: all die at the timeout", async () => {
        const marker = markerSeconds();
        const result = await run(`${A.DAEMONS[language](marker)}\n${A.LOOP[language]}`, { timeoutMs: 2000 });
        expect(result.error?.kind).toBe("timeout");
        await expectNoneLeft(marker, 10_000);
      });

      if (mode === "one-shot") {
        it("starts daemons and is aborted: all die", async () => {
          const marker = markerSeconds();
          const controller = new AbortController();
          setTimeout(() => controller.abort(), 1500);
          const result = await run(`${A.DAEMONS[language](marker)}\n${A.LOOP[language]}`, { signal: controller.signal });
          expect(result.error?.kind).toBe("killed");
          await expectNoneLeft(marker, 10_000);
        });

        it("starts daemons while the runtime is closed: all die with close()", async () => {
          const marker = markerSeconds();
          const runtime = await options.create();
          const running = runtime.execute(base({ code: `${A.DAEMONS[language](marker)}\n${A.LOOP[language]}`, timeoutMs: 30_000 })).catch(() => undefined);
          await waitFor(() => processesWith(marker).length >= 1);
          await runtime.close();
          await running;
          await expectNoneLeft(marker, 10_000);
        });
      }

      it(`allocates ${language === "python" ? "a bytearray" : "a Buffer"} of 512 MB under memoryMb 64: kind memory`, async () => {
        const result = await run(A.BIG_OFF_HEAP[language], { memoryMb: 64, timeoutMs: 30_000 });
        expect(result.ok).toBe(false);
        expect(result.error?.kind).toBe("memory");
        expectFine(await next("1 + 1"));
      });
    });
  });
}

/** A `sleep` argument that names one test's processes: whole seconds (GNU sleep takes fractions too). */
function markerSeconds(): string {
  return `${87_000 + Math.floor(Math.random() * 9_000)}.${Math.floor(Math.random() * 1000)}`;
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
}

/**
 * What an attacker with a local account did against earlier versions: create the shared runners
 * folder (named by a hash of the wrappers anyone can compute) before coderouter does, with a
 * wrapper of their own that would then run every sandboxed execution.
 */
function plantRunners(): string {
  const files = readdirSync(runnersDir)
    .filter((f) => /\.(py|cjs)$/.test(f))
    .sort();
  const hash = createHash("sha256");
  for (const file of files) hash.update(file).update(readFileSync(join(runnersDir, file)));
  const target = join(tmpdir(), `coderouter-runners-${hash.digest("hex").slice(0, 16)}`);
  mkdirSync(target, { recursive: true, mode: 0o777 });
  for (const file of files) copyFileSync(join(runnersDir, file), join(target, file));
  writeFileSync(join(target, "coderouter_runner.py"), A.PLANTED_PYTHON_RUNNER);
  writeFileSync(join(target, "node_runner.cjs"), A.PLANTED_NODE_RUNNER);
  return target;
}
