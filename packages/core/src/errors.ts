import type { RoutingDecision, RuntimeId } from "./schemas.js";

/** The closed set of `kind`s an error thrown by coderouter carries (a result's own errors are ERROR_KINDS). */
export const FAILURE_KINDS = [
  "validation",
  "config",
  "no_runtime",
  "runtime_unavailable",
  "infrastructure",
  "not_installed",
  "closed",
  "router_closed",
  "too_many_sessions",
  "session_closed",
  "code",
  "package_install",
  "not_found",
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

// A registered symbol: isInstance holds across two copies of this package in one process.
const MARKER = Symbol.for("coderouter.error");

/**
 * Every error coderouter throws carries a stable `kind` callers can switch on, the HTTP status it
 * answers with, and whether trying the same call again later can help (as the AI SDK's
 * APICallError: 408, 409, 429 and 5xx are retryable, other statuses are not, unless said otherwise).
 */
export abstract class CoderouterError extends Error {
  abstract readonly kind: FailureKind;
  abstract readonly statusCode: number;
  readonly [MARKER] = true;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }

  get isRetryable(): boolean {
    return [408, 409, 429].includes(this.statusCode) || this.statusCode >= 500;
  }

  /** Like instanceof, but true for an error from another copy of coderouter too. */
  static isInstance(error: unknown): error is CoderouterError {
    return typeof error === "object" && error !== null && (error as { [MARKER]?: unknown })[MARKER] === true;
  }
}

export interface ValidationIssue {
  path: string;
  message: string;
}

/** The request (or a file path, or an option) is not acceptable; nothing was run. */
export class ValidationError extends CoderouterError {
  readonly kind = "validation";
  readonly statusCode = 400;
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
  /** The service, not the caller, is misconfigured; that does not mend itself, so it is not retryable. */
  readonly statusCode = 500;
  override get isRetryable(): boolean {
    return false;
  }
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
  readonly statusCode = 503;
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
  readonly statusCode = 503;
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
  readonly kind: FailureKind = "infrastructure";
  /** 502 by default: a backend behind coderouter failed. */
  readonly statusCode: number;
  readonly #retryable: boolean | undefined;
  constructor(
    readonly runtime: RuntimeId,
    message: string,
    options?: ErrorOptions & { statusCode?: number; isRetryable?: boolean },
  ) {
    super(message, options);
    this.statusCode = options?.statusCode ?? 502;
    this.#retryable = options?.isRetryable;
  }

  override get isRetryable(): boolean {
    return this.#retryable ?? super.isRetryable;
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
    // Installing takes an operator: trying again will not help by itself.
    super(runtime, `runtime "${runtime}" is not installed: ${hint}`, { ...options, statusCode: 503, isRetryable: false });
    this.fix = options?.fix;
  }
  /** The command that installs it, when one does. */
  readonly fix?: string;
}

/** The runtime was closed; executions after close() are refused rather than leaking new resources. */
export class RuntimeClosedError extends InfrastructureError {
  override readonly kind = "closed";
  constructor(runtime: RuntimeId) {
    super(runtime, `runtime "${runtime}" has been closed`, { statusCode: 503 });
  }
}

/**
 * A workflow code node failed: its code failed (`result` holds everything the execution produced),
 * or no runtime could run it (`result` is null and `cause` is the router's error). Thrown only by
 * adapters whose contract is to throw, such as executeCodeNode.
 */
export class CodeExecutionError extends CoderouterError {
  readonly kind = "code";
  readonly statusCode = 422;
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
  readonly statusCode = 404;
  constructor(
    readonly sessionId: string,
    readonly reason: string,
  ) {
    super(`session ${sessionId} has ended (${reason}): open a new session`);
  }
}

/** A session file that does not exist (read, list or remove of a missing path). */
export class FileNotFoundError extends CoderouterError {
  readonly kind = "not_found";
  readonly statusCode = 404;
  constructor(readonly path: string) {
    super(`${path} does not exist in the session's workspace`);
  }
}

/** The router was closed (a service draining for shutdown): another instance can take the call. */
export class RouterClosedError extends CoderouterError {
  readonly kind = "router_closed";
  readonly statusCode = 503;
  constructor() {
    super("the router has been closed: it takes no more work (the service is shutting down)");
  }
}

/** As many sessions are open as the limit allows; one closing or idling out makes room. */
export class TooManySessionsError extends CoderouterError {
  readonly kind = "too_many_sessions";
  readonly statusCode = 429;
  constructor(
    readonly open: number,
    readonly limit: number,
  ) {
    super(`${open} sessions are open, the most CODEROUTER_MAX_SESSIONS (${limit}) allows: close one or wait for an idle one to expire`);
  }
}
