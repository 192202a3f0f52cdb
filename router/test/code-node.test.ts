import { afterAll, describe, expect, it } from "vitest";
import { CodeExecutionError, createRouter, executeCodeNode, ValidationError } from "../src/index.js";

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
