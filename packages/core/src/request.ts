import { bashInputVariables } from "./bash.js";
import { ValidationError } from "./errors.js";
import { checkInputDepth } from "./untrusted.js";
import { ExecutionRequestSchema, type ExecutionRequest, type Isolation, type NormalizedRequest } from "./schemas.js";

export interface RequestDefaults {
  timeoutMs: number;
  maxOutputBytes: number;
  isolation: Isolation;
  memoryMb?: number;
}

/** Validates a request from any caller (library, CLI, HTTP); a bad one is a ValidationError naming each field. */
export function parseRequest(input: unknown): ExecutionRequest {
  // Before the schema, whose recursive walk a very deep value would exhaust.
  if (input && typeof input === "object") checkInputDepth((input as { inputs?: unknown }).inputs);
  const parsed = ExecutionRequestSchema.safeParse(input);
  if (parsed.success) {
    // Refused here, before any runtime is chosen, rather than by whichever runtime gets the script.
    if (parsed.data.language === "bash") {
      bashInputVariables(parsed.data.inputs ?? {}, parsed.data.env);
      if (parsed.data.packages?.length) {
        const why = "packages are installed for python and javascript; a bash script installs what it needs itself";
        throw new ValidationError(`invalid request: packages: ${why}`, [{ path: "packages", message: why }]);
      }
    }
    return parsed.data;
  }
  const issues = parsed.error.issues.map((issue) => ({
    path: issue.path.length ? issue.path.map(String).join(".") : "(request)",
    message: issue.message,
  }));
  throw new ValidationError(`invalid request: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues);
}

/** Applies the defaults a runtime relies on, so no runtime needs to know where a default comes from. */
export function normalizeRequest(request: ExecutionRequest, defaults: RequestDefaults): NormalizedRequest {
  const { runtime: _runtime, ...rest } = request;
  return {
    ...rest,
    inputs: request.inputs ?? {},
    timeoutMs: request.timeoutMs ?? defaults.timeoutMs,
    isolation: request.isolation ?? defaults.isolation,
    memoryMb: request.memoryMb ?? defaults.memoryMb,
    maxOutputBytes: defaults.maxOutputBytes,
  };
}
