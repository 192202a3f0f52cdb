import { describe, expect, it } from "vitest";
import { findJsonProblem } from "../src/index.js";

describe("findJsonProblem", () => {
  it("accepts every JSON shape", () => {
    expect(findJsonProblem({ a: [1, "x", true, null, { b: [] }], "not an identifier": 2.5 }, "inputs")).toBeUndefined();
    expect(findJsonProblem(Object.create(null), "inputs")).toBeUndefined();
  });

  it("names the path and the reason of the first value that is not JSON", () => {
    expect(findJsonProblem({ rows: [{ ok: 1 }, { when: new Date(0) }] }, "ctx")).toEqual({
      path: "ctx.rows.1.when",
      message: "a Date instance, not a plain object",
    });
    expect(findJsonProblem({ f: () => 0 }, "v")).toEqual({ path: "v.f", message: "a function, not a JSON value" });
    expect(findJsonProblem([1n], "v")).toEqual({ path: "v.0", message: "a bigint, not a JSON value" });
    expect(findJsonProblem({ n: Number.NaN }, "v")?.message).toBe("NaN is not a JSON number");
    expect(findJsonProblem({ u: undefined }, "v")?.path).toBe("v.u");
  });

  it("finds a cycle, but accepts the same object reached twice without one", () => {
    const shared = { x: 1 };
    expect(findJsonProblem({ a: shared, b: shared }, "v")).toBeUndefined();
    const loop: Record<string, unknown> = {};
    loop.self = { back: loop };
    expect(findJsonProblem(loop, "v")).toEqual({ path: "v.self.back", message: "a circular reference" });
  });

  it("walks a value nested 100,000 deep without overflowing the stack", () => {
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findJsonProblem(deep, "v")).toBeUndefined();
  });
});
