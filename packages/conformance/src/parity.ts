import { describe, expect, it } from "vitest";
import type { NormalizedRequest, RuntimeId, RuntimeResult, ExpressionLanguage } from "@coderouter/core";
import { runBare, type BareResult } from "./bare.js";
import { PYTHON_PARITY, type ParityProgram } from "./parity-programs.js";
import { JAVASCRIPT_PARITY } from "./parity-console.js";

type Run = (language: ExpressionLanguage, code: string, extra?: Partial<NormalizedRequest>) => Promise<RuntimeResult>;

/**
 * Same program, same result: each program runs on the runtime and on the bare interpreter
 * (`python3 main.py`, `node main.js`), and the value, stdout, stderr and error (kind and name) must
 * agree, except where the README's "Differences between runtimes" table says otherwise; those rows
 * are checked as documented.
 */
export function paritySection(language: ExpressionLanguage, run: Run, runtimeId: () => RuntimeId): void {
  if (language === "typescript") return;
  const programs = language === "python" ? PYTHON_PARITY : JAVASCRIPT_PARITY;
  describe("parity with the bare interpreter", () => {
    it.each(programs)("$name", async (program) => {
      const bare = runBare(language, program.body, program.value);
      const times = program.twice ? 2 : 1;
      for (let i = 0; i < times; i++) {
        const result = await run(language, `${program.body}\n${program.value}`);
        const documented = program.differs?.[runtimeId()];
        if (documented) expectDocumented(result, documented);
        else expectSame(result, bare, program);
      }
    });
  });
}

function expectSame(result: RuntimeResult, bare: BareResult, program: ParityProgram): void {
  const fields = program.compare ?? ["output", "stdout", "stderr", "error"];
  const context = JSON.stringify({ result: { ...result, metadata: undefined }, bare });
  if (fields.includes("error")) {
    expect(result.error ? { kind: result.error.kind, name: result.error.name } : undefined, context).toEqual(bare.error);
  }
  if (fields.includes("output") && !bare.error) expect(result.output, context).toEqual(bare.output);
  const stdout = program.normalize?.stdout ?? ((text: string) => text);
  if (fields.includes("stdout") || program.normalize?.stdout) expect(stdout(result.stdout), context).toBe(stdout(bare.stdout));
  if (fields.includes("stderr") && !bare.error) expect(result.stderr, context).toBe(bare.stderr);
}

function expectDocumented(result: RuntimeResult, documented: NonNullable<ParityProgram["differs"]>[RuntimeId]): void {
  const context = JSON.stringify({ ...result, metadata: undefined });
  if (documented?.error) expect(result.error?.name, context).toBe(documented.error);
  if (documented?.output !== undefined) expect(result.output, context).toEqual(documented.output);
  if (documented?.stdout !== undefined) expect(result.stdout, context).toBe(documented.stdout);
}
