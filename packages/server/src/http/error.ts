import { NoRuntimeAvailableError, RuntimeUnavailableError, SessionClosedError, ValidationError } from "coderouter";

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
  new HttpError(400, { error: { kind: "validation", message, issues } });

/** Library errors as HTTP answers: what the caller did wrong is 4xx, what no runtime could do is 503. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof ValidationError) {
    return new HttpError(400, { error: { kind: error.kind, message: error.message, issues: error.issues } });
  }
  if (error instanceof SessionClosedError) {
    return new HttpError(404, { error: { kind: error.kind, message: error.message } });
  }
  if (error instanceof NoRuntimeAvailableError || error instanceof RuntimeUnavailableError) {
    return new HttpError(503, { error: { kind: error.kind, message: error.message, routing: error.decision } });
  }
  const e = error as Error;
  return new HttpError(500, { error: { kind: "internal", message: e.message ?? String(error) } });
}
