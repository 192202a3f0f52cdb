import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { EXIT, main } from "../src/index.js";

// The CLI's argument handling through main() with in-memory streams: nothing here runs code, so
// these run in the fast suite. test/cli.test.ts drives the real binary end to end.
async function cli(args: string[], stdin = "") {
  const out = new PassThrough();
  const err = new PassThrough();
  const input = new PassThrough();
  input.end(stdin);
  let stdout = "";
  let stderr = "";
  out.on("data", (chunk) => (stdout += chunk));
  err.on("data", (chunk) => (stderr += chunk));
  const code = await main(args, { stdin: input, stdout: out, stderr: err });
  return { code, stdout, stderr };
}

describe("CLI argument parsing", () => {
  it("prints the usage and exits 2 without a command, 0 when help is asked for", async () => {
    const none = await cli([]);
    expect(none.code).toBe(EXIT.usage);
    expect(none.stdout).toContain("usage:");
    expect((await cli(["--help"])).code).toBe(EXIT.ok);
    expect((await cli(["run", "--help"])).code).toBe(EXIT.ok);
  });

  it("exits 2 naming the problem for an unknown command, an unknown flag or two files", async () => {
    const unknown = await cli(["fly"]);
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toContain('unknown command "fly"');
    expect((await cli(["run", "--colour", "x.py"])).stderr).toMatch(/Unknown option '--colour'/);
    expect((await cli(["run", "a.py", "b.py"])).stderr).toContain("expected one FILE, got 2");
    expect((await cli(["doctor", "extra"])).code).toBe(EXIT.usage);
  });

  it("exits 2 when the language cannot be told or --inputs is not JSON", async () => {
    const noLanguage = await cli(["explain", "-"], "1");
    expect(noLanguage.code).toBe(EXIT.usage);
    expect(noLanguage.stderr).toMatch(/language/);
    const badInputs = await cli(["explain", "--language", "python", "--inputs", "{nope", "-"], "1");
    expect(badInputs.code).toBe(EXIT.usage);
    expect(badInputs.stderr).toMatch(/--inputs/);
  });

  it("exits 2 for a serve port that is no port number", async () => {
    const serve = await cli(["serve", "--port", "99999"]);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain("--port must be a port number");
  });
});
