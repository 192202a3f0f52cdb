import type { RoutingDecision, RuntimeId } from "./schemas.js";

/** Every error coderouter throws carries a stable `kind` callers can switch on. */
export abstract class CoderouterError extends Error {
  abstract readonly kind: string;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface ValidationIssue {
  path: string;
  message: string;
}

/** The request (or a file path, or an option) is not acceptable; nothing was run. */
export class ValidationError extends CoderouterError {
  readonly kind = "validation";
  constructor(
    message: string,
    readonly issues: ValidationIssue[] = [],
  ) {
    super(message);
  }
}

/** A configuration value (environment variable or option) is invalid; names the variable. */
export class ConfigError extends CoderouterError {
  readonly kind = "config";
  constructor(
    message: string,
    readonly variable: string,
  ) {
    super(message);
  }
}

/** `runtime: "auto"` found no runtime that can take the request; the decision says why for each. */
export class NoRuntimeAvailableError extends CoderouterError {
  readonly kind = "no_runtime";
  constructor(
    message: string,
    readonly decision: RoutingDecision,
  ) {
    super(message);
  }
}

/** An explicitly requested runtime cannot take the request; it is never silently replaced. */
export class RuntimeUnavailableError extends CoderouterError {
  readonly kind = "runtime_unavailable";
  constructor(
    readonly runtime: RuntimeId,
    readonly reason: string,
    readonly decision?: RoutingDecision,
  ) {
    super(`runtime "${runtime}" cannot take this request: ${reason}`);
  }
}

/**
 * The backend failed, not the user's code: an interpreter that would not start, a sandbox that could
 * not be created, a service that refused the credentials. The router falls back to the next candidate.
 */
export class InfrastructureError extends CoderouterError {
  readonly kind: string = "infrastructure";
  constructor(
    readonly runtime: RuntimeId,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A backend's package or native dependency is missing from this installation. */
export class RuntimeNotInstalledError extends InfrastructureError {
  override readonly kind = "not_installed";
  constructor(
    runtime: RuntimeId,
    readonly hint: string,
    options?: ErrorOptions & { fix?: string },
  ) {
    super(runtime, `runtime "${runtime}" is not installed: ${hint}`, options);
    this.fix = options?.fix;
  }
  /** The command that installs it, when one does. */
  readonly fix?: string;
}

/** The runtime was closed; executions after close() are refused rather than leaking new resources. */
export class RuntimeClosedError extends InfrastructureError {
  override readonly kind = "closed";
  constructor(runtime: RuntimeId) {
    super(runtime, `runtime "${runtime}" has been closed`);
  }
}

/**
 * A workflow code node failed: its code failed (`result` holds everything the execution produced),
 * or no runtime could run it (`result` is null and `cause` is the router's error). Thrown only by
 * adapters whose contract is to throw, such as executeCodeNode.
 */
export class CodeExecutionError extends CoderouterError {
  readonly kind = "code";
  constructor(
    message: string,
    readonly language: string,
    readonly result: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The session is gone: closed, expired after idling, or its worker ended. Open a new one. */
export class SessionClosedError extends CoderouterError {
  readonly kind = "session_closed";
  constructor(
    readonly sessionId: string,
    readonly reason: string,
  ) {
    super(`session ${sessionId} has ended (${reason}): open a new session`);
  }
}
