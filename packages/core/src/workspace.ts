import { posix } from "node:path";
import { ValidationError } from "./errors.js";

/**
 * A session's working directory as its code and its callers name it, on every runtime that can
 * give code that path (the bubblewrap sandbox mounts it there, E2B has it in the sandbox).
 */
export const WORKSPACE = "/workspace";

/**
 * A files-API path relative to the workspace: `/workspace/a/b` and `a/b` name the same file,
 * `/workspace` and `.` the directory itself. Any other absolute path, and any `..` that leads out,
 * is refused here, before a runtime sees it.
 */
export function workspacePath(path: string): string {
  if (typeof path !== "string" || path === "" || path.includes("\0")) {
    throw new ValidationError("a session file path must be a non-empty string", [{ path: "path", message: "required" }]);
  }
  const inside = path === WORKSPACE ? "." : path.startsWith(`${WORKSPACE}/`) ? path.slice(WORKSPACE.length + 1) || "." : path;
  if (posix.isAbsolute(inside)) {
    throw new ValidationError(`${path} is outside the session's workspace: use a path under ${WORKSPACE}/ or one relative to it`, [
      { path: "path", message: "outside the workspace" },
    ]);
  }
  const normal = posix.normalize(inside);
  if (normal === ".." || normal.startsWith("../")) {
    throw new ValidationError(`${path} leads outside the session's workspace`, [{ path: "path", message: "outside the workspace" }]);
  }
  return normal === "./" ? "." : normal.replace(/\/$/, "");
}
