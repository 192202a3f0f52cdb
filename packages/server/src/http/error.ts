import { CoderouterError, NoRuntimeAvailableError, PackageInstallError, RuntimeUnavailableError, ValidationError } from "coderouter";

/** An answer other than 200, thrown from anywhere in a route and sent by the server's one catch. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error: { kind: string; message: string } & Record<string, unknown> },
    readonly headers: Record<string, string> = {},
  ) {
    super(JSON.stringify(body));
  }
}

/** A 400 in the same shape as a ValidationError's answer. */
export const badRequest = (message: string, issues: { path: string; message: string }[] = []) =>
  new HttpError(400, { error: { kind: "validation", message, issues, retryable: false } });

/**
 * Library errors as HTTP answers, each with the status and `retryable` the error carries: what the
 * caller did wrong is 4xx, a server condition (a closed or draining router, no runtime) 503, too
 * many sessions 429. A status that invites a retry says when, in Retry-After.
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (CoderouterError.isInstance(error)) {
    const body = {
      kind: error.kind,
      message: error.message,
      retryable: error.isRetryable,
      ...(error instanceof ValidationError ? { issues: error.issues } : {}),
      ...(error instanceof NoRuntimeAvailableError || error instanceof RuntimeUnavailableError ? { routing: error.decision } : {}),
      // A request's `packages` that would not install: which, and what the installer said.
      ...(error instanceof PackageInstallError ? { packages: error.packages, ...error.output } : {}),
    };
    const headers: Record<string, string> = error.statusCode === 429 || error.statusCode === 503 ? { "retry-after": "1" } : {};
    return new HttpError(error.statusCode, { error: body }, headers);
  }
  const e = error as Error;
  return new HttpError(500, { error: { kind: "internal", message: e.message ?? String(error), retryable: false } });
}
