import { expect, it } from "vitest";
import type { NormalizedRequest, RuntimeResult } from "@coderouter/core";

const MiB = 1024 * 1024;

type RunSnippet = (extra?: Partial<NormalizedRequest>) => Promise<RuntimeResult>;

export interface StreamCases {
  /** Runs code that writes "to stdout\n" to stdout and "to stderr\n" to stderr. */
  streams: RunSnippet;
  /** Runs code that writes more than 1 MiB to stdout. */
  flood: RunSnippet;
  /** The section's own check of a successful result. */
  expectOk(result: RuntimeResult): void;
}

/**
 * The output streams, the same for a language's code and a bash script: stdout and stderr kept
 * apart, in the result and as they come, and a flood capped at 1 MiB, marked truncated and ended
 * as an output limit.
 */
export function streamCases({ streams, flood, expectOk }: StreamCases): void {
  it("captures stdout and stderr separately and streams them as they come", async () => {
    const seen = { stdout: "", stderr: "" };
    const result = await streams({
      onStdout: (text) => (seen.stdout += text),
      onStderr: (text) => (seen.stderr += text),
    });
    expectOk(result);
    expect(result.stdout).toBe("to stdout\n");
    expect(result.stderr).toBe("to stderr\n");
    expect(seen).toEqual({ stdout: "to stdout\n", stderr: "to stderr\n" });
    expect(result.truncated?.stdout ?? false).toBe(false);
  });

  it("caps a flood of output and marks it truncated", async () => {
    const result = await flood();
    expect(result.truncated?.stdout).toBe(true);
    expect(Buffer.byteLength(result.stdout)).toBeLessThanOrEqual(MiB);
    expect(result.stdout.length).toBeGreaterThan(0);
    expect(result.ok).toBe(false);
    expect(result.error?.kind).toBe("output_limit");
  });
}
