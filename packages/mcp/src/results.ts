import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { CoderouterError, type ExecutionResult, type JsonValue } from "coderouter";

/**
 * What every tool answers, in the seed's shape: `success`, the value, the streams and the error.
 * The same object goes out as structured content and, for clients that read only text, as JSON text.
 */
export const ToolErrorSchema = z.object({ kind: z.string(), name: z.string(), message: z.string(), traceback: z.string().optional() });

export const ToolResultShape = {
  success: z.boolean(),
  output: z.unknown(),
  stdout: z.string(),
  stderr: z.string(),
  error: ToolErrorSchema.nullable(),
};

export const ExecuteResultShape = {
  ...ToolResultShape,
  runtime: z.string().optional(),
  language: z.string().optional(),
  sessionId: z.string().optional(),
  durationMs: z.number().optional(),
  /** A bash script's exit status. */
  exitCode: z.number().optional(),
};

type Structured = Record<string, unknown> & { success: boolean };

function answer(structured: Structured): CallToolResult {
  return {
    content: [{ type: "text", text: JSON.stringify(structured, null, 2) }],
    structuredContent: structured,
    ...(structured.success ? {} : { isError: true }),
  };
}

/** An execution's result as a tool result (a bash script's has no session). */
export function executionAnswer(result: ExecutionResult, sessionId?: string): CallToolResult {
  return answer({
    success: result.success,
    output: result.output,
    stdout: result.stdout,
    stderr: result.stderr,
    error: result.error ?? null,
    runtime: result.runtime,
    language: result.language,
    ...(sessionId ? { sessionId } : {}),
    ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : {}),
    durationMs: Math.round(result.metadata.durationMs),
  });
}

/** A tool's own value (an environment, a file listing) as a successful tool result. */
export function valueAnswer(output: JsonValue, extra: { stdout?: string; stderr?: string } = {}): CallToolResult {
  return answer({ success: true, output, stdout: extra.stdout ?? "", stderr: extra.stderr ?? "", error: null });
}

/**
 * A failure before or around the code (invalid arguments, no runtime, a closed session, a refused
 * path) as a tool result with `success: false`, so an agent reads it the same way as a code failure.
 */
export function failureAnswer(error: unknown, extra: { stdout?: string; stderr?: string } = {}): CallToolResult {
  const failure = error instanceof Error ? error : new Error(String(error));
  const own = (failure as Error & { kind?: unknown }).kind;
  const kind = error instanceof CoderouterError ? error.kind : typeof own === "string" ? own : "internal";
  return answer({
    success: false,
    output: null,
    stdout: extra.stdout ?? "",
    stderr: extra.stderr ?? "",
    error: { kind, name: failure.name, message: failure.message },
  });
}
