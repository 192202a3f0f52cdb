import type { ServerResponse } from "node:http";

/**
 * Errors as the orchestrator's API answers them: apimodels.APIError as JSON
 * ({Status, Message, RequestID, Code, Component}), the Code one of bacerrors' codes.
 */
export type ErrorCode = "BadRequest" | "NotFound" | "Unauthorized" | "ServiceUnavailable" | "InternalError" | "ValidationError";

export function apiError(res: ServerResponse, status: number, code: ErrorCode, message: string, component = "APIServer"): void {
  const body = { Status: status, Message: message, RequestID: "", Code: code, Component: component };
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
