import { describe, expect, it } from "vitest";
import {
  bashExitCode,
  bashExitError,
  bashInputVariables,
  bashOutput,
  bashPayload,
  MAX_INPUT_VARIABLE_BYTES,
  parseRequest,
  ValidationError,
  variableText,
} from "../src/index.js";

describe("bash inputs as variables", () => {
  it("exports identifier keys, strings as they are and other values as JSON text; other keys stay in the file", () => {
    const variables = bashInputVariables({ name: "it's $(id)", n: 42, off: false, none: null, list: [1, "a"], "odd-key": 1, "2x": 2 });
    expect(variables).toEqual({ name: "it's $(id)", n: "42", off: "false", none: "null", list: '[1,"a"]' });
    expect(variableText({ k: "v" })).toBe('{"k":"v"}');
  });

  it("leaves out values no environment can carry: a NUL, or more than MAX_INPUT_VARIABLE_BYTES", () => {
    const variables = bashInputVariables({ cut: "a\0b", big: "x".repeat(MAX_INPUT_VARIABLE_BYTES), ok: "y" });
    expect(variables).toEqual({ ok: "y" });
  });

  it.each([
    ...["PATH", "IFS", "BASH_ENV", "BASHOPTS", "PS4", "PS3", "TMOUT", "FUNCNEST", "RANDOM", "LD_PRELOAD", "GLIBC_TUNABLES", "MALLOC_PERTURB_", "GCONV_PATH"],
    ...["LC_ALL", "LANGUAGE", "NODE_OPTIONS", "NODE_PATH", "PYTHONWARNINGS", "PYTHONPATH", "PERL5OPT", "HOME", "TMPDIR", "CODEROUTER_INPUTS_FILE"],
  ])("refuses an input named %s, naming it", (name) => {
    expect(() => bashInputVariables({ [name]: "x" })).toThrow(ValidationError);
    expect(() => bashInputVariables({ [name]: "x" })).toThrow(new RegExp(`input "${name}" cannot be a bash variable`));
  });

  it("refuses an input that env sets too, and exported inputs beyond 1 MiB together", () => {
    expect(() => bashInputVariables({ token: "a" }, { token: "b" })).toThrow(/env sets token as well/);
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`v${i}`, "x".repeat(60_000)]));
    expect(() => bashInputVariables(many)).toThrow(/more than 1048576/);
  });

  it("counts what each variable costs an exec, so many tiny inputs meet the limit too (150,000 empty ones were an E2BIG)", () => {
    const tiny = Object.fromEntries(Array.from({ length: 150_000 }, (_, i) => [`v${i.toString(36)}`, ""]));
    expect(() => bashInputVariables(tiny)).toThrow(ValidationError);
    // Lookalikes and near-misses of reserved names are ordinary inputs.
    expect(bashInputVariables({ PATHS: "a", MY_PATH: "b", NODE: "c", python: "d" })).toEqual({ PATHS: "a", MY_PATH: "b", NODE: "c", python: "d" });
  });

  it("is checked when a bash request is parsed, before any runtime; packages are refused for bash", () => {
    expect(() => parseRequest({ language: "bash", code: "true", inputs: { IFS: "," } })).toThrow(ValidationError);
    expect(() => parseRequest({ language: "bash", code: "true", packages: ["jq"] })).toThrow(/packages: .*bash script installs what it needs itself/);
    // Other languages keep their rule: any key is an input.
    expect(parseRequest({ language: "python", code: "1", inputs: { PATH: "x" } }).inputs).toEqual({ PATH: "x" });
  });
});

describe("bash results", () => {
  const request = { maxOutputBytes: 100 };

  it("reads fd 3 as one JSON value, nothing as null, integers kept exact", () => {
    expect(bashOutput("", request)).toEqual({ output: null });
    expect(bashOutput(" \n", request)).toEqual({ output: null });
    expect(bashOutput('{"a": [1, 2]}\n', request)).toEqual({ output: { a: [1, 2] } });
    expect(bashOutput("12345678901234567890", request)).toEqual({ output: "12345678901234567890" });
  });

  it("reports text that is not JSON, too deep or too large as the code's error", () => {
    expect(bashOutput("hello", request)).toMatchObject({ error: { kind: "runtime", name: "OutputError" } });
    expect(bashOutput("[1] [2]", request)).toMatchObject({ error: { name: "OutputError" } });
    expect(bashOutput("[".repeat(300) + "]".repeat(300), { maxOutputBytes: 10_000 })).toMatchObject({ error: { message: /deeper than/ } });
    expect(bashOutput(`"${"x".repeat(200)}"`, request)).toMatchObject({ error: { kind: "output_limit" } });
  });

  it("gives a non-zero status as ExitStatus, and a signal as 128 + its number", () => {
    expect(bashExitError(0)).toBeUndefined();
    expect(bashExitError(3)).toMatchObject({ kind: "runtime", name: "ExitStatus", message: "the script exited with status 3" });
    expect(bashExitCode(null, "SIGKILL")).toBe(137);
    expect(bashExitCode(2, null)).toBe(2);
    expect(bashExitError(137)?.message).toMatch(/signal 9/);
  });

  it("frames the runner's payload by byte length, so nothing in it is parsed by the shell", () => {
    const payload = bashPayload({ code: "echo ✓\n", inputs: { s: "é\n" } });
    const json = JSON.stringify({ s: "é\n" });
    expect(payload).toBe(`${Buffer.byteLength(json)}\n${json}echo ✓\n`);
  });
});
