import { normalizedRequest as request } from "@coderouter/conformance";
import { afterAll, describe, expect, it } from "vitest";
import { SubprocessRuntime } from "../src/index.js";

const runtime = new SubprocessRuntime({ forkServers: 0 });
afterAll(() => runtime.close());

describe("a Python session is one __main__ module across its executions", () => {
  it("pickles a class and doctests a function that earlier executions defined", async () => {
    const session = await runtime.openSession({ language: "python", isolation: "process" });
    try {
      const define = await session.execute(
        request({
          code: 'class Point:\n    def __init__(self, x):\n        self.x = x\n\ndef double(n):\n    """\n    >>> double(4)\n    8\n    """\n    return n * 2',
        }),
      );
      expect(define.error).toBeUndefined();
      const use = await session.execute(
        request({
          code: "import doctest, pickle, sys\n[pickle.loads(pickle.dumps(Point(3))).x, doctest.testmod().attempted, __name__, sys.modules['__main__'].double is double]",
        }),
      );
      expect(use.error).toBeUndefined();
      expect(use.output).toEqual([3, 1, "__main__", true]);
    } finally {
      await session.close();
    }
  });
});
