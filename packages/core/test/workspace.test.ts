import { describe, expect, it } from "vitest";
import { ValidationError, WORKSPACE, workspacePath } from "../src/index.js";

describe("workspacePath", () => {
  it("names the same file by /workspace/... and by a relative path", () => {
    expect(workspacePath("/workspace/data.csv")).toBe("data.csv");
    expect(workspacePath("data.csv")).toBe("data.csv");
    expect(workspacePath("/workspace/a/./b/../c.txt")).toBe("a/c.txt");
    expect(workspacePath("dir/")).toBe("dir");
  });

  it("names the workspace itself as .", () => {
    for (const path of [WORKSPACE, `${WORKSPACE}/`, ".", "./", "a/.."]) expect(workspacePath(path), path).toBe(".");
  });

  it("refuses absolute paths elsewhere, a way out through .., and empty or NUL-bearing paths", () => {
    for (const path of ["/etc/passwd", "/workspacex/a", "/workspace/../etc/passwd", "../x", "a/../../x", "", "a\0b"]) {
      expect(() => workspacePath(path), JSON.stringify(path)).toThrow(ValidationError);
    }
  });
});
