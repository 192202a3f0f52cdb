import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import wabtInit from "wabt";
import { normalizedRequest } from "@coderouter/conformance";
import { createRouter } from "coderouter";
import type { WasmRuntime } from "../src/index.js";
import { testRuntime } from "./test-runtime.js";

/** A WASI program in WebAssembly text: writes `text` to fd 1, or does `body` instead. */
function program(body: string, data = ""): string {
  return `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) ${JSON.stringify(data)})
  (func $write (param $fd i32) (param $len i32)
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start") ${body}))`;
}

let wasm: (wat: string) => string;
let runtime: WasmRuntime;
beforeAll(async () => {
  const wabt = await wabtInit();
  wasm = (wat) => Buffer.from(wabt.parseWat("main.wat", wat).toBinary({}).buffer).toString("base64");
  runtime = testRuntime({ prewarm: false, wasmedgeBin: "wasmedge" });
});
afterAll(() => runtime.close());

const run = (wat: string, extra = {}) => runtime.execute(normalizedRequest({ language: "wasm", code: wasm(wat), ...extra }));

describe("WASI modules", () => {
  it("runs a module: its stdout and stderr, and its exit code as the output", async () => {
    const result = await run(program("(call $write (i32.const 1) (i32.const 6)) (call $write (i32.const 2) (i32.const 6))", "hello\n"));
    expect(result).toMatchObject({ ok: true, runtime: "wasm", language: "wasm", output: 0, stdout: "hello\n", stderr: "hello\n" });
  });

  it("reports a non-zero exit as a failure with the code", async () => {
    const result = await run(program("(call $proc_exit (i32.const 3))"));
    expect(result).toMatchObject({ ok: false, error: { kind: "runtime", name: "ExitError", message: "the module exited with code 3" } });
  });

  it("reports a trap as a runtime error, and bytes that are no module as a syntax error", async () => {
    expect((await run(program("unreachable"))).error).toMatchObject({ kind: "runtime", name: "RuntimeError" });
    const junk = await runtime.execute(normalizedRequest({ language: "wasm", code: Buffer.from("not a module").toString("base64") }));
    expect(junk.error).toMatchObject({ kind: "syntax", name: "CompileError" });
  });

  it("ends an endless loop at the timeout", async () => {
    const started = Date.now();
    const result = await run(program("(loop $forever (br $forever))"), { timeoutMs: 500 });
    expect(result.error?.kind).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("reaches no file outside its preopened directory", async () => {
    // path_open on fd 3 (the preopened /work) with "../../etc/passwd": refused by WASI.
    const body = `(i32.store (i32.const 200) (i32.const 0))
      (if (i32.eqz (call $path_open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const 16) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200)))
        (then (call $proc_exit (i32.const 7))))`;
    const result = await run(program(body, "../../etc/passwd"));
    expect(result).toMatchObject({ ok: true, output: 0 });
  });

  it("is the runtime the router picks for language wasm, and through the alias wasmedge", async () => {
    const router = createRouter({ env: {}, dotenv: false });
    const code = wasm(program("(call $write (i32.const 1) (i32.const 3))", "hi\n"));
    expect(await router.execute({ language: "wasm", code })).toMatchObject({ runtime: "wasm", stdout: "hi\n" });
    expect(await router.execute({ language: "wasm", code, runtime: "wasmedge" })).toMatchObject({ runtime: "wasm", stdout: "hi\n" });
    await router.close();
  });
});

describe("WASI modules under WasmEdge", () => {
  const standIn = fileURLToPath(new URL("../../../test/wasmedge-standin/wasmedge", import.meta.url));
  let edge: WasmRuntime;
  beforeAll(() => {
    edge = testRuntime({ prewarm: false, wasmedgeBin: standIn });
  });
  afterAll(() => edge.close());

  it("runs the module with the WasmEdge CLI when it is found, streaming its output", async () => {
    expect((await edge.availability()).reason).toMatch(/WASI modules under wasmedge version 0\.14\.1/);
    const seen: string[] = [];
    const result = await edge.execute(
      normalizedRequest({ language: "wasm", code: wasm(program("(call $write (i32.const 1) (i32.const 6))", "edged\n")), onStdout: (t) => seen.push(t) }),
    );
    expect(result).toMatchObject({ ok: true, output: 0, stdout: "edged\n" });
    expect(seen.join("")).toBe("edged\n");
    const failed = await edge.execute(normalizedRequest({ language: "wasm", code: wasm(program("(call $proc_exit (i32.const 4))")) }));
    expect(failed.error).toMatchObject({ name: "ExitError", message: "the module exited with code 4" });
  });

  it("ends an endless loop at the timeout, killing the WasmEdge process", async () => {
    const result = await edge.execute(normalizedRequest({ language: "wasm", code: wasm(program("(loop $forever (br $forever))")), timeoutMs: 800 }));
    expect(result.error?.kind).toBe("timeout");
  });

  it("refuses clearly when WasmEdge is required but missing", async () => {
    const strict = testRuntime({ prewarm: false, maxExecutions: 1, wasmedgeBin: "no-such-wasmedge", wasiEngine: "wasmedge" });
    await expect(strict.execute(normalizedRequest({ language: "wasm", code: "AA==" }))).rejects.toThrow(
      /WASM_WASI_ENGINE=wasmedge, but WasmEdge \(no-such-wasmedge\) is not installed/,
    );
    await strict.close();
  });
});
