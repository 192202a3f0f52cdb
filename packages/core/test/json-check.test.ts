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
      keys: ["ctx", "rows", "1", "when"],
      message: "a Date instance, not a plain object",
    });
    expect(findJsonProblem({ f: () => 0 }, "v")).toMatchObject({ path: "v.f", message: "a function, not a JSON value" });
    expect(findJsonProblem([1n], "v")).toMatchObject({ path: "v.0", message: "a bigint, not a JSON value" });
    expect(findJsonProblem({ n: Number.NaN }, "v")?.message).toBe("NaN is not a JSON number");
    expect(findJsonProblem({ u: undefined }, "v")).toMatchObject({ path: "v.u", message: "undefined, not a JSON value" });
  });

  it("reports the first offending value in document order, a scalar before a later nested one", () => {
    expect(findJsonProblem({ a: [1, { b: 2 }], c: Number.POSITIVE_INFINITY, d: { e: () => 0 } }, "v")?.path).toBe("v.c");
    expect(findJsonProblem({ a: { b: undefined }, c: Number.NaN }, "v")?.path).toBe("v.a.b");
  });

  it("refuses a container nested deeper than the limit, and accepts one at it", () => {
    const nest = (levels: number) => {
      let value: unknown = 0;
      for (let i = 0; i < levels; i++) value = { next: value };
      return value;
    };
    expect(findJsonProblem(nest(3), "v", 3)).toBeUndefined();
    expect(findJsonProblem(nest(4), "v", 3)).toEqual({ path: "v.next.next.next", keys: ["v", "next", "next", "next"], message: "nested deeper than 3 levels" });
  });

  it("finds a cycle, but accepts the same object reached twice without one", () => {
    const shared = { x: 1 };
    expect(findJsonProblem({ a: shared, b: shared }, "v")).toBeUndefined();
    const loop: Record<string, unknown> = {};
    loop.self = { back: loop };
    expect(findJsonProblem(loop, "v")).toMatchObject({ path: "v.self.back", message: "a circular reference" });
  });

  it("walks a value nested 100,000 deep without overflowing the stack", () => {
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findJsonProblem(deep, "v")).toBeUndefined();
  });
});
