import type { Sandbox } from "./sdk.js";

/**
 * One cell run on the sandbox's code interpreter (POST /execute on port 49999), read as the
 * stream of JSON lines it is. The SDK's runCode cannot be aborted by its caller, so an execution
 * that hit a limit would keep its stream (and the kernel) busy; here the caller's signal closes
 * the connection, on which the interpreter interrupts the kernel. No timer outlives the call.
 */

const JUPYTER_PORT = "49999";

/** A result as the interpreter sends it: one field per format (template/server/api/models/result.py). */
export interface CellResult {
  is_main_result?: boolean;
  text?: string;
  html?: string;
  markdown?: string;
  svg?: string;
  png?: string;
  jpeg?: string;
  pdf?: string;
  latex?: string;
  json?: Record<string, unknown>;
  javascript?: string;
  /** E2B's structured chart of a matplotlib figure (its e2b/chart format). */
  chart?: Record<string, unknown>;
  /** E2B's columns of a pandas DataFrame (its e2b/data format). */
  data?: Record<string, unknown>;
  extra?: Record<string, unknown>;
}

export interface CellError {
  name: string;
  value: string;
  traceback: string;
}

export interface CellExecution {
  results: CellResult[];
  error?: CellError;
}

export interface CellOptions {
  contextId: string;
  signal: AbortSignal;
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  onResult?: (result: CellResult) => void;
}

/** An HTTP failure, named and numbered as the SDK's errors are, for serviceError(). */
export class InterpreterHttpError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
    this.name = statusCode === 404 ? "NotFoundError" : statusCode === 502 ? "TimeoutError" : "SandboxError";
  }
}

interface Connection {
  jupyterUrl: string;
  envdAccessToken?: string;
  trafficAccessToken?: string;
}

export async function runCell(sandbox: Sandbox, code: string, options: CellOptions): Promise<CellExecution> {
  const connection = sandbox as unknown as Connection;
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "E2b-Sandbox-Id": sandbox.sandboxId,
    "E2b-Sandbox-Port": JUPYTER_PORT,
  };
  if (connection.envdAccessToken) headers["X-Access-Token"] = connection.envdAccessToken;
  if (connection.trafficAccessToken) headers["E2B-Traffic-Access-Token"] = connection.trafficAccessToken;
  const response = await fetch(`${connection.jupyterUrl}/execute`, {
    method: "POST",
    headers,
    body: JSON.stringify({ code, context_id: options.contextId }),
    signal: options.signal,
  });
  if (!response.ok) {
    const text = await response.text().catch(() => "");
    const why = response.status === 502 ? `the sandbox is not running (${text})` : text || response.statusText;
    throw new InterpreterHttpError(why, response.status);
  }
  if (!response.body) throw new InterpreterHttpError("the interpreter answered without a body", response.status);
  const execution: CellExecution = { results: [] };
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (value) buffer += value;
      const lines = buffer.split("\n");
      buffer = done ? "" : lines.pop()!;
      for (const line of lines) {
        if (line.trim() && handle(JSON.parse(line) as Record<string, unknown>, execution, options)) return execution;
      }
      if (done) throw new InterpreterHttpError("the interpreter's stream ended before the execution did", 500);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Applies one message; true at the end of the execution. */
function handle(message: Record<string, unknown>, execution: CellExecution, options: CellOptions): boolean {
  switch (message.type) {
    case "stdout":
      options.onStdout?.(String(message.text ?? ""));
      return false;
    case "stderr":
      options.onStderr?.(String(message.text ?? ""));
      return false;
    case "result": {
      const result = message as CellResult;
      execution.results.push(result);
      options.onResult?.(result);
      return false;
    }
    case "error":
      execution.error = { name: String(message.name ?? ""), value: String(message.value ?? ""), traceback: String(message.traceback ?? "") };
      return false;
    case "end_of_execution":
      return true;
    case "unexpected_end_of_execution":
      execution.error ??= { name: "UnexpectedEndOfExecution", value: "the connection to the kernel was closed before the execution finished", traceback: "" };
      return true;
    default:
      // number_of_executions, keepalive
      return false;
  }
}
