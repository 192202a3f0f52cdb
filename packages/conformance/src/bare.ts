import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseExactJson, type JsonValue } from "@coderouter/core";

/** What the bare interpreter made of a program, in the terms of an ExecutionResult. */
export interface BareResult {
  output: JsonValue;
  stdout: string;
  stderr: string;
  error?: { kind: "syntax" | "runtime"; name: string };
}

const SYNTAX = new Set(["SyntaxError", "IndentationError", "TabError"]);

/**
 * Runs `body` followed by the expression `value` the way a user runs a file: `python3 main.py`, or
 * `node main.js`. The value is written to a file of its own, as JSON (integers beyond 2**53 and
 * BigInts as their decimal digits, the contract's representation), so stdout stays the program's.
 * The harness is appended after the body (and, in JavaScript, opens on the body's first line), so
 * the program's line numbers are the user's.
 */
export function runBare(language: "python" | "javascript", body: string, value: string): BareResult {
  const dir = mkdtempSync(join(tmpdir(), "coderouter-parity-"));
  const valueFile = join(dir, "value.json");
  const errorFile = join(dir, "error.json");
  try {
    const python = language === "python";
    const file = join(dir, python ? "main.py" : "main.js");
    const source = python
      ? `${body}\nimport json as _j\nopen(${JSON.stringify(valueFile)}, "w").write(_j.dumps(${value}))\n`
      : `(async () => {${body}\n;return (${value})\n})().then(
  (v) => require("fs").writeFileSync(${JSON.stringify(valueFile)}, JSON.stringify(v, (k, x) => (typeof x === "bigint" ? String(x) : x)) ?? "null"),
  (e) => { require("fs").writeFileSync(${JSON.stringify(errorFile)}, JSON.stringify({ name: e?.name ?? "Error" })); process.exitCode = 1; });\n`;
    writeFileSync(file, source);
    const ran = spawnSync(python ? "python3" : process.execPath, [file], {
      cwd: dir,
      encoding: "utf8",
      timeout: 30_000,
      env: { PATH: process.env.PATH ?? "", LANG: "C.UTF-8" },
    });
    const result: BareResult = { output: null, stdout: ran.stdout, stderr: ran.stderr };
    if (ran.status === 0 && !exists(errorFile)) {
      result.output = parseExactJson(nonFiniteAsNull(readFileSync(valueFile, "utf8"))) as JsonValue;
      return result;
    }
    // Thrown while running (JavaScript's JSON.parse throws a SyntaxError too): a runtime error.
    if (exists(errorFile)) {
      result.error = { kind: "runtime", name: (JSON.parse(readFileSync(errorFile, "utf8")) as { name: string }).name };
      return result;
    }
    const name = lastErrorName(ran.stderr);
    result.error = { kind: SYNTAX.has(name) ? "syntax" : "runtime", name };
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Python's json writes NaN and Infinity as bare words; the contract says null. */
function nonFiniteAsNull(json: string): string {
  return json.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (token) => (token.startsWith('"') ? token : "null"));
}

function exists(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The exception's name from the interpreter's report: `pkg.mod.NameError: message` → `NameError`. */
function lastErrorName(stderr: string): string {
  const line = stderr
    .split("\n")
    .reverse()
    .find((l) => /^[\w.]+(: |$)/.test(l) && !l.startsWith(" "));
  return (line ?? "Error").split(":")[0]!.split(".").at(-1)!;
}
