import { describe, expect, it } from "vitest";
import type { NormalizedRequest, RuntimeResult, ExpressionLanguage } from "@coderouter/core";

type Run = (language: ExpressionLanguage, code: string, extra?: Partial<NormalizedRequest>) => Promise<RuntimeResult>;

/**
 * The parity rule for promises: JavaScript that awaits a promise nothing is left to settle (no
 * timer, no fetch, no I/O pending) ends at once with UnsettledPromiseError on every runtime, as a
 * Node process does when its event loop runs dry, instead of waiting for the timeout on some.
 */
export function unsettledPromiseSection(run: Run, language: ExpressionLanguage): void {
  describe("a promise nothing is left to settle", () => {
    it("ends with UnsettledPromiseError long before the timeout", async () => {
      const started = Date.now();
      const result = await run(language, "console.log('before')\nawait new Promise(() => {})\n'never'", { timeoutMs: 10_000 });
      expect(result.ok).toBe(false);
      expect(result.error).toMatchObject({ kind: "runtime", name: "UnsettledPromiseError" });
      expect(result.stdout).toBe("before\n");
      expect(Date.now() - started).toBeLessThan(8_000);
    });

    it("counts a cleared timer as nothing left", async () => {
      const result = await run(language, "const id = setTimeout(() => {}, 50)\nclearTimeout(id)\nawait new Promise(() => {})", { timeoutMs: 10_000 });
      expect(result.error?.name).toBe("UnsettledPromiseError");
    });

    it("waits for a pending timer, and for work that runs after it, before judging", async () => {
      const code = [
        "await new Promise((resolve) => setTimeout(resolve, 100))",
        "let total = 0",
        "for (let i = 0; i < 2_000_000; i++) total += i % 3",
        "await new Promise((resolve) => setTimeout(resolve, 20))",
        "total > 0 ? 'settled' : 'no'",
      ].join("\n");
      const result = await run(language, code, { timeoutMs: 10_000 });
      expect(result.error, JSON.stringify(result.error)).toBeUndefined();
      expect(result.output).toBe("settled");
    });
  });
}
