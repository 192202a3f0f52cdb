import { describe, expect, it } from "vitest";
import {
  CodeExecutionError,
  CoderouterError,
  ConfigError,
  FAILURE_KINDS,
  InfrastructureError,
  NoRuntimeAvailableError,
  PackageInstallError,
  RouterClosedError,
  RuntimeClosedError,
  RuntimeNotInstalledError,
  RuntimeUnavailableError,
  SessionClosedError,
  TooManySessionsError,
  ValidationError,
} from "../src/index.js";

const decision = { requested: "auto" as const, selected: null, reason: "none", candidates: [], attempts: [] };

describe("errors carry a kind from a closed set, an HTTP status and whether a retry can help", () => {
  it.each([
    [new ValidationError("bad"), "validation", 400, false],
    [new ConfigError("bad", "X"), "config", 500, false],
    [new NoRuntimeAvailableError("none", decision), "no_runtime", 503, true],
    [new RuntimeUnavailableError("e2b", "down"), "runtime_unavailable", 503, true],
    [new InfrastructureError("e2b", "reset"), "infrastructure", 502, true],
    [new RuntimeNotInstalledError("e2b", "npm install"), "not_installed", 503, false],
    [new RuntimeClosedError("e2b"), "closed", 503, true],
    [new RouterClosedError(), "router_closed", 503, true],
    [new TooManySessionsError(3, 3), "too_many_sessions", 429, true],
    [new SessionClosedError("s", "closed"), "session_closed", 404, false],
    [new CodeExecutionError("failed", "python", {}), "code", 422, false],
    [new PackageInstallError(["nothing-here"], "pip exited with code 1"), "package_install", 422, false],
  ] as const)("%s", (error, kind, status, retryable) => {
    expect(error.kind).toBe(kind);
    expect(FAILURE_KINDS).toContain(error.kind);
    expect(error.statusCode).toBe(status);
    expect(error.isRetryable).toBe(retryable);
  });

  it("lets a backend say what its failure is: a refused key is not worth retrying", () => {
    const refused = new InfrastructureError("e2b", "401", { statusCode: 502, isRetryable: false });
    expect(refused.isRetryable).toBe(false);
    expect(new InfrastructureError("e2b", "busy", { statusCode: 503 }).statusCode).toBe(503);
  });

  it("recognises an error from another copy of the package, and nothing else", () => {
    // What a second copy of @coderouter/core in node_modules would throw: another class, the same registered marker.
    const foreign = Object.assign(new Error("from another copy"), { [Symbol.for("coderouter.error")]: true });
    expect(CoderouterError.isInstance(foreign)).toBe(true);
    expect(CoderouterError.isInstance(new ValidationError("x"))).toBe(true);
    expect(CoderouterError.isInstance(new Error("plain"))).toBe(false);
    expect(CoderouterError.isInstance(null)).toBe(false);
  });
});
