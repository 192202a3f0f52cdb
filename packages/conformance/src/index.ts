import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NormalizedRequest, Runtime, RuntimeResult, ExpressionLanguage } from "@coderouter/core";
import { createServer } from "node:net";
import { JS_ESCAPES, JS_RESOURCE_ATTACKS, PY_ESCAPES, PY_RESOURCE_ATTACKS, PY_WASM_ESCAPES } from "./escapes.js";
import { fileURLToPath } from "node:url";
import * as S from "./snippets.js";
import { paritySection } from "./parity.js";
import { describeTenantAttacks } from "./tenant-state.js";
import { unsettledPromiseSection } from "./unsettled.js";
import { expectNoneLeft } from "./processes.js";
import { streamCases } from "./streams.js";
import { hostileTenantSection } from "./hostile.js";
import { bashSection } from "./bash.js";

export interface ConformanceOptions {
  /** Label of the suite, e.g. "subprocess". */
  name: string;
  create: () => Runtime | Promise<Runtime>;
  /** The languages the runtime claims; each gets the whole suite. */
  languages: ExpressionLanguage[];
  /** Whether code may start processes: enables the checks that grandchildren die with the execution. */
  processes?: boolean;
  /**
   * Whether Python code may start threads (not in WebAssembly): without them, the work left behind
   * after the result is an asyncio task instead of a thread.
   */
  threads?: boolean;
  /** Extra request fields for every execution (e.g. isolation: "sandbox"). */
  request?: Partial<NormalizedRequest>;
  /**
   * The runtime claims "sandbox" isolation: run the security section. "engine" for JavaScript
   * sandboxes inside the host process (escapes through V8 objects); "os" for a sandboxed process
   * (escapes through the filesystem, the network, signals and resources); "wasm" for engines
   * compiled to WebAssembly (Python's escapes through the bridge to JavaScript and to the host's
   * files, JavaScript's through the engine).
   */
  sandbox?: "engine" | "os" | "wasm";
  /**
   * false for a remote kernel that cannot tell an unsettled promise from a slow one (it waits for
   * the cell's timeout); every local runtime keeps the rule (unsettled.ts).
   */
  unsettledPromises?: boolean;
  /** Run the hostile-tenant section's process-level attacks (it runs whole for an "os" sandbox). */
  hostile?: boolean;
  /** The runtime runs bash scripts: the bash section (bash.ts), with `processes` and an "os" sandbox's checks. */
  bash?: boolean;
}

const MiB = 1024 * 1024;
const SECRET = "e2b_conformance_secret_do_not_leak";

/**
 * The rules every runtime keeps (DESIGN.md, "Rules every runtime keeps"). A runtime's test file
 * calls this with its factory; a runtime is done when all of it passes.
 */
export function runConformance(options: ConformanceOptions): void {
  describe(`conformance: ${options.name}`, () => {
    let runtime: Runtime;
    beforeAll(async () => {
      runtime = await options.create();
    });
    afterAll(async () => {
      await runtime?.close();
    });

    const run = (language: ExpressionLanguage | "bash", code: string, extra: Partial<NormalizedRequest> = {}): Promise<RuntimeResult> =>
      runtime.execute({
        language,
        code,
        inputs: {},
        timeoutMs: 15_000,
        isolation: "none",
        maxOutputBytes: MiB,
        ...options.request,
        ...extra,
      });

    if (options.bash) {
      bashSection((code, extra = {}) => run("bash", code, extra), { processes: Boolean(options.processes), sandbox: options.sandbox === "os" });
    }

    if (!options.languages.length) return;
    describe.each(options.languages)("%s", (language) => {
      const code = (snippet: S.Snippet) => S.codeFor(snippet, language);
      const expectOk = (result: RuntimeResult) => {
        expect(result.error, JSON.stringify(result.error)).toBeUndefined();
        expect(result.ok).toBe(true);
        expect(result.language).toBe(language);
        expect(result.runtime).toBe(runtime.id);
      };

      describe("output", () => {
        it("returns each JSON type as it is", async () => {
          for (const value of S.JSON_VALUES) {
            const result = await run(language, S.literal(value, language));
            expectOk(result);
            expect(result.output).toEqual(value);
          }
        });

        it.each(S.CONVERSIONS)("converts by the shared rules: $name", async ({ snippet, expected }) => {
          const result = await run(language, code(snippet));
          expectOk(result);
          if (expected instanceof RegExp) expect(result.output).toMatch(expected);
          else expect(result.output).toEqual(expected);
        });

        it("reports a circular output as an error, not a crash", async () => {
          const result = await run(language, code(S.CIRCULAR));
          expect(result.ok).toBe(false);
          expect(result.error).toMatchObject({ kind: "runtime", name: "CircularOutputError" });
        });

        it("gives null when the code ends without an expression", async () => {
          const result = await run(language, code(S.NO_EXPRESSION));
          expectOk(result);
          expect(result.output).toBeNull();
        });

        it("supports top-level await", async () => {
          const result = await run(language, code(S.TOP_LEVEL_AWAIT));
          expectOk(result);
          expect(result.output).toBe(42);
        });

        if (language !== "python") {
          it("returns the value of a top-level return", async () => {
            const result = await run(language, "if (inputs.early) {\n  return 'early'\n}\n'late'", { inputs: { early: true } });
            expectOk(result);
            expect(result.output).toBe("early");
          });
        }
      });

      describe("inputs", () => {
        it("delivers inputs as data, unchanged, through `inputs`", async () => {
          const result = await run(language, code(S.READ_INPUTS), { inputs: S.TRICKY_INPUTS });
          expectOk(result);
          expect(result.output).toEqual(S.TRICKY_INPUTS);
        });

        it("makes each identifier key a global", async () => {
          const result = await run(language, code(S.READ_GLOBALS), { inputs: S.TRICKY_INPUTS });
          expectOk(result);
          expect(result.output).toEqual(S.IDENTIFIER_KEYS.map((key) => S.TRICKY_INPUTS[key]));
        });

        it("keeps keys that are not identifiers reachable through `inputs`", async () => {
          const result = await run(language, code(S.READ_ODD_KEYS), { inputs: S.TRICKY_INPUTS });
          expectOk(result);
          expect(result.output).toEqual([1, 2, 3]);
        });

        it("delivers a 1 MB string whole", async () => {
          const big = "x".repeat(MiB) + "end";
          const result = await run(language, code(S.BIG_STRING), { inputs: { big } });
          expectOk(result);
          expect(result.output).toEqual([big.length, "end"]);
        });
      });

      describe("streams", () => {
        streamCases({
          streams: (extra) => run(language, code(S.STREAMS), extra),
          flood: (extra) => run(language, code(S.FLOOD_STDOUT), extra),
          expectOk,
        });
      });

      describe("errors", () => {
        it("reports a syntax error with the user's line number", async () => {
          const result = await run(language, code(S.SYNTAX_ERROR));
          expect(result.ok).toBe(false);
          expect(result.error?.kind).toBe("syntax");
          expect(result.error?.name).toBe("SyntaxError");
          expect(`${result.error?.message}\n${result.error?.traceback ?? ""}`).toMatch(/line 2\b|:2(:\d+)?\b/);
        });

        it("reports a runtime error with name, message and the user's line numbers", async () => {
          const result = await run(language, code(S.RUNTIME_ERROR));
          expect(result.ok).toBe(false);
          expect(result.error).toMatchObject({ kind: "runtime", name: S.RUNTIME_ERROR_NAME[language], message: "boom" });
          const traceback = result.error?.traceback ?? "";
          expect(traceback).toMatch(/line 2\b|:2:\d+/);
          expect(traceback).toMatch(/line 4\b|:4:\d+/);
          expect(traceback).not.toMatch(/coderouter_runner|node_runner/);
        });
      });

      describe("limits", () => {
        it.each([
          ["a synchronous infinite loop", S.SYNC_LOOP],
          ["an asynchronous infinite loop", S.ASYNC_LOOP],
          ["a timer that never lets go", S.TIMER_LOOP],
        ] as const)("ends %s at the timeout", async (_name, snippet) => {
          const started = Date.now();
          const result = await run(language, code(snippet), { timeoutMs: 1000 });
          expect(result.ok).toBe(false);
          expect(result.error?.kind).toBe("timeout");
          expect(Date.now() - started).toBeLessThan(6000);
        });

        it("ends a memory bomb with kind memory, and the next execution is fine", async () => {
          const result = await run(language, code(S.MEMORY_BOMB), { memoryMb: 128, timeoutMs: 30_000 });
          expect(result.ok).toBe(false);
          expect(result.error?.kind).toBe("memory");
          const next = await run(language, "1 + 1");
          expectOk(next);
          expect(next.output).toBe(2);
        });

        it("honours an AbortSignal with kind killed", async () => {
          const controller = new AbortController();
          setTimeout(() => controller.abort(), 300);
          const result = await run(language, code(S.SYNC_LOOP), { signal: controller.signal });
          expect(result.ok).toBe(false);
          expect(result.error?.kind).toBe("killed");
        });

        it("leaves nothing running after the result", async () => {
          let late = "";
          let done = false;
          const snippet = language === "python" && options.threads === false ? S.LEAVE_TASK_BEHIND.python : code(S.LEAVE_WORK_BEHIND);
          const result = await run(language, snippet, {
            onStdout: (text) => {
              if (done) late += text;
            },
          });
          done = true;
          expectOk(result);
          expect(result.output).toBe("done");
          await new Promise((resolve) => setTimeout(resolve, 300));
          expect(late).toBe("");
        });

        if (options.processes) {
          it.each([
            ["after a normal end", false],
            ["after a timeout", true],
          ] as const)("kills grandchildren %s", async (_name, thenLoop) => {
            const marker = `${86_000 + Math.floor(Math.random() * 300)}.${Date.now() % 1000}`;
            const result = await run(language, S.SPAWN_SLEEPER[language](marker, thenLoop), { timeoutMs: 2000 });
            expect(result.error?.kind).toBe(thenLoop ? "timeout" : undefined);
            await expectNoneLeft(marker);
          });
        }
      });

      describe("isolation between and around executions", () => {
        it("never passes the host's environment to the code; passes the request's env", async () => {
          const saved = { key: process.env.E2B_API_KEY, canary: process.env.CODEROUTER_CANARY };
          process.env.E2B_API_KEY = SECRET;
          process.env.CODEROUTER_CANARY = SECRET;
          try {
            const result = await run(language, code(S.READ_ENV), { env: { GREETING: "hello" } });
            expectOk(result);
            expect(result.output).toEqual([null, null, "hello"]);
            expect(JSON.stringify(result)).not.toContain(SECRET);
          } finally {
            restoreEnv("E2B_API_KEY", saved.key);
            restoreEnv("CODEROUTER_CANARY", saved.canary);
          }
        });

        it("runs parallel executions that cannot see each other's state", async () => {
          const ids = ["a", "b", "c", "d"];
          const results = await Promise.all(ids.map((id) => run(language, code(S.SHARED_STATE), { inputs: { id } })));
          results.forEach((result, i) => {
            expectOk(result);
            expect(result.output).toEqual([null, ids[i]]);
          });
        });
      });

      if (language !== "python" && options.unsettledPromises !== false) unsettledPromiseSection(run, language);
      paritySection(language, run, () => runtime.id);
      if ((options.sandbox === "os" || options.hostile) && language !== "typescript") {
        hostileTenantSection({ language, runtime: () => runtime, create: options.create, request: options.request ?? {}, sandbox: options.sandbox === "os" });
      }

      if ((options.sandbox === "engine" || options.sandbox === "wasm") && language !== "python") {
        describe("security: no way out of the sandbox", () => {
          it.each(JS_ESCAPES)("$name", async ({ code: attack }) => {
            const saved = process.env.E2B_API_KEY;
            process.env.E2B_API_KEY = SECRET;
            try {
              const result = await run(language, attack, { inputs: { nested: { a: [1] } }, timeoutMs: 5000 });
              expectOk(result);
              expect(result.output).toBeNull();
              expect(JSON.stringify(result)).not.toContain(SECRET);
            } finally {
              restoreEnv("E2B_API_KEY", saved);
            }
          });

          it.each(JS_RESOURCE_ATTACKS)("survives $name, and the next execution is fine", async ({ code: attack, kinds }) => {
            const result = await run(language, attack, { timeoutMs: 2000, memoryMb: 64 });
            expect(result.ok).toBe(false);
            expect(kinds).toContain(result.error?.kind);
            const next = await run(language, "1 + 1");
            expectOk(next);
            expect(next.output).toBe(2);
          });
        });
      }

      if (options.sandbox === "engine" || options.sandbox === "wasm") describeTenantAttacks(language, run);

      if (options.sandbox === "wasm" && language === "python") {
        describe("security: no way out of the WebAssembly sandbox", () => {
          const loopback = hostLoopbackServer();

          it.each(PY_WASM_ESCAPES)("$name", async ({ code: attack }) => {
            const saved = process.env.E2B_API_KEY;
            process.env.E2B_API_KEY = SECRET;
            try {
              const hostFile = fileURLToPath(import.meta.url);
              const result = await run(language, attack, { inputs: { port: loopback.port, hostFile }, timeoutMs: 10_000 });
              expectOk(result);
              expect(result.output).toEqual([]);
              expect(JSON.stringify(result)).not.toContain(SECRET);
            } finally {
              restoreEnv("E2B_API_KEY", saved);
            }
          });

          it("survives a memory bomb, and the next execution is fine", async () => {
            // Growing to the engine's ceiling faults in gigabytes page by page (~24 µs a page on a
            // shared VM): the timeout is generous so that memory, not the clock, ends it under load.
            const result = await run(language, "hog = []\nwhile True:\n    hog.append(bytearray(50 * 1024 * 1024))", { timeoutMs: 60_000 });
            expect(result.error?.kind).toBe("memory");
            const next = await run(language, "1 + 1");
            expectOk(next);
            expect(next.output).toBe(2);
          }, 120_000);
        });
      }

      if (options.sandbox === "os" && language === "python") {
        describe("security: no way out of the sandbox", () => {
          const loopback = hostLoopbackServer();

          it.each(PY_ESCAPES)("$name", async ({ code: attack }) => {
            const saved = process.env.E2B_API_KEY;
            process.env.E2B_API_KEY = SECRET;
            try {
              const result = await run(language, attack, { inputs: { port: loopback.port }, timeoutMs: 10_000 });
              expectOk(result);
              expect(result.output).toEqual([]);
            } finally {
              restoreEnv("E2B_API_KEY", saved);
            }
          });

          it.each(PY_RESOURCE_ATTACKS)("survives $name, leaves nothing running, and the next execution is fine", async ({ code: attack, kinds }) => {
            const result = await run(language, attack, { timeoutMs: 3000, memoryMb: 256 });
            expect(result.ok).toBe(false);
            expect(kinds).toContain(result.error?.kind);
            const next = await run(language, "1 + 1");
            expectOk(next);
            expect(next.output).toBe(2);
          });
        });
      }
    });
  });
}

/** A server on the host's loopback for the duration of a describe block: code must not reach it. */
function hostLoopbackServer(): { port: number } {
  const state = { port: 0 };
  const server = createServer((socket) => socket.end("host"));
  beforeAll(
    () =>
      new Promise<void>((resolve) =>
        server.listen(0, "127.0.0.1", () => {
          state.port = (server.address() as { port: number }).port;
          resolve();
        }),
      ),
  );
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return state;
}

/** A request as a runtime receives it, for runtimes' own tests: `1 + 1` in Python unless `extra` says otherwise. */
export function normalizedRequest(extra: Partial<NormalizedRequest> = {}): NormalizedRequest {
  return { language: "python", code: "1 + 1", inputs: {}, timeoutMs: 10_000, isolation: "none", maxOutputBytes: MiB, ...extra };
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

export * as snippets from "./snippets.js";
export { JS_ESCAPES, JS_RESOURCE_ATTACKS, PY_ESCAPES, PY_RESOURCE_ATTACKS } from "./escapes.js";
export { runSessionConformance, type ConformanceSession, type SessionConformanceOptions } from "./sessions.js";
