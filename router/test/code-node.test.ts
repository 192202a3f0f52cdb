import { afterAll, describe, expect, it } from "vitest";
import { CodeExecutionError, createRouter, executeCodeNode, NoRuntimeAvailableError, ValidationError } from "../src/index.js";
import { EchoRuntime } from "./test-runtime.js";

const router = createRouter({ env: {} });
afterAll(() => router.close());

describe("executeCodeNode", () => {
  it("runs a node with the whole context as inputs and returns the seed's result shape", async () => {
    const result = await executeCodeNode(
      { language: "python", code: "print('total', sum(prices))\nimport sys\nprint('careful', file=sys.stderr)\n{'total': sum(prices), 'user': user}" },
      { prices: [1.5, 2.5], user: "ada" },
      { router },
    );
    expect(result).toMatchObject({
      language: "python",
      output: { total: 4, user: "ada" },
      stdout: "total 4.0\n",
      stderr: "careful\n",
      logs: ["total 4.0", "ERROR: careful"],
      metadata: { executionTime: expect.any(Number), runtime: "subprocess" },
    });
  });

  it("passes only inputVariables when given, under outputVariable when set", async () => {
    const result = (await executeCodeNode(
      { language: "javascript", code: "return [typeof secret, a]", inputVariables: ["a"], outputVariable: "node1" },
      { a: 1, secret: "not for this node" },
      { router },
    )) as Record<string, { output: unknown }>;
    expect(result.node1!.output).toEqual(["undefined", 1]);
  });

  it("honours the node's runtime and timeout", async () => {
    const result = await executeCodeNode({ language: "javascript", code: "1", runtime: "subprocess" }, {}, { router });
    expect(result).toMatchObject({ metadata: { runtime: "subprocess" } });
    const error = await executeCodeNode({ language: "python", code: "while True: pass", timeout: 500 }, {}, { router }).catch((e) => e);
    expect(error).toBeInstanceOf(CodeExecutionError);
    expect(error.result.error.kind).toBe("timeout");
  });

  it("throws CodeExecutionError with the traceback when the code fails", async () => {
    const error = await executeCodeNode({ language: "python", code: "x = 1\nraise KeyError('missing')" }, {}, { router }).catch((e) => e);
    expect(error).toBeInstanceOf(CodeExecutionError);
    expect(error.message).toMatch(/KeyError: 'missing'[\s\S]*line 2/);
    expect(error.language).toBe("python");
  });

  it("rejects an invalid node with a ValidationError naming the field", async () => {
    await expect(executeCodeNode({ language: "python", code: "" }, {}, { router })).rejects.toThrow(ValidationError);
    await expect(executeCodeNode({ language: "python", code: "" }, {}, { router })).rejects.toThrow(/code: code is required/);
  });
});

describe("executeCodeNode, as the seed's engine calls it", () => {
  it("says Unsupported language: <name>, as the seed does", async () => {
    const error = await executeCodeNode({ language: "ruby" as never, code: "puts 1" }, {}, { router }).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toBe("Unsupported language: ruby");
  });

  it("refuses a context value that is not JSON with a ValidationError naming the variable", async () => {
    const error = await executeCodeNode({ language: "python", code: "1" }, { ok: 1, when: { at: () => 0 } }, { router }).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toMatch(/context variable "when" is not JSON \(at when\.at/);
    expect(error.issues[0].path).toBe("when.at");
  });

  it("only checks the variables the node takes", async () => {
    const result = await executeCodeNode({ language: "python", code: "a * 2", inputVariables: ["a"] }, { a: 21, fn: () => 0 }, { router });
    expect(result).toMatchObject({ output: 42 });
  });

  it("turns an infrastructure failure into CodeExecutionError with the cause attached", async () => {
    const broken = new EchoRuntime("subprocess", {}, { infrastructureFailure: "the interpreter would not start" });
    const narrow = createRouter({ env: {}, runtimes: { subprocess: broken }, settings: { enabledRuntimes: ["subprocess"] } });
    try {
      const error = await executeCodeNode({ language: "python", code: "1" }, {}, { router: narrow }).catch((e) => e);
      expect(error).toBeInstanceOf(CodeExecutionError);
      expect(error.result).toBeNull();
      expect(error.cause).toBeInstanceOf(NoRuntimeAvailableError);
      expect(error.message).toMatch(/the interpreter would not start/);
    } finally {
      await narrow.close();
    }
  });

  it("passes the node's expected duration, packages and isolation to the router", async () => {
    const echo = new EchoRuntime("subprocess", { isolation: "sandbox", packages: "installable" });
    const recording = createRouter({ env: {}, runtimes: { subprocess: echo }, settings: { enabledRuntimes: ["subprocess"] } });
    try {
      await executeCodeNode(
        { language: "python", code: "1", expectedDuration: 60_000, packages: ["pandas==2.2.3"], isolation: "sandbox" },
        {},
        { router: recording },
      );
      expect(echo.executions[0]).toMatchObject({ expectedDurationMs: 60_000, packages: ["pandas==2.2.3"], isolation: "sandbox" });
    } finally {
      await recording.close();
    }
  });
});
