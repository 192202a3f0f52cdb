import { InfrastructureError } from "@coderouter/core";
import type { E2BSettings } from "./settings.js";

/**
 * What went wrong talking to E2B, in words a user can act on, as an InfrastructureError (the
 * router may fall back to another runtime). `retryable` says whether repeating the same call is
 * safe and may help: never for a refused key or a rate limit, which would only fail again.
 */
export class E2BServiceError extends InfrastructureError {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super("e2b", message, { ...options, isRetryable: retryable });
  }
}

/** Maps an error thrown by the SDK (or by fetch underneath it) to an E2BServiceError. */
export function serviceError(error: unknown, action: string, settings: E2BSettings): E2BServiceError {
  const e = error as Error & { statusCode?: number; cause?: { code?: string; message?: string } };
  const name = e?.name ?? "";
  const detail = redact(String(e?.message ?? error), settings);
  if (name === "AuthenticationError") {
    return new E2BServiceError(`E2B refused the API key while trying to ${action} (401): check E2B_API_KEY`, false, 401, { cause: error });
  }
  if (name === "RateLimitError") {
    return new E2BServiceError(`E2B's rate limit or sandbox quota was reached while trying to ${action} (429): ${detail}`, false, 429, { cause: error });
  }
  if (name === "ServiceBusyError") {
    return new E2BServiceError(`E2B is temporarily unavailable (503) while trying to ${action}`, true, 503, { cause: error });
  }
  if (name === "NotFoundError" || e?.statusCode === 404) {
    return new E2BServiceError(`E2B could not ${action}: ${detail}`, false, 404, { cause: error });
  }
  const status = e?.statusCode;
  if (status && status >= 500) {
    return new E2BServiceError(`E2B failed to ${action} (${status}): ${detail}`, true, status, { cause: error });
  }
  // fetch's network failures: DNS, TLS, refused or reset connections.
  const cause = e?.cause?.code ?? e?.cause?.message;
  if (name === "TypeError" || cause) {
    const where = settings.apiUrl ?? `api.${settings.domain ?? "e2b.app"}`;
    return new E2BServiceError(`cannot reach E2B (${where}) to ${action}: ${redact(String(cause ?? detail), settings)}`, true, undefined, { cause: error });
  }
  return new E2BServiceError(`E2B failed to ${action}: ${detail}`, name === "TimeoutError", status, { cause: error });
}

/** The key never appears in a message, a log line or a result, whatever the service echoed back. */
export function redact(text: string, settings: E2BSettings): string {
  let out = text;
  if (settings.apiKey) out = out.split(settings.apiKey).join("[redacted]");
  return out.replace(/e2b_[A-Za-z0-9]{8,}/g, "e2b_[redacted]");
}
