import { z } from "zod";
import {
  CodeExecutionError,
  ExecutionRequestSchema,
  IsolationSchema,
  findJsonProblem,
  LanguageSchema,
  ValidationError,
  type ExecutionResult,
  type JsonValue,
  type Language,
} from "@coderouter/core";
import { createRouter, type Router } from "./router.js";

/** The workflow code node's configuration (the seeds' CodeNodeConfig) plus the runtime and isolation to use. */
export const CodeNodeConfigSchema = z.object({
  language: LanguageSchema,
  code: z.string().min(1, "code is required"),
  timeout: z.number().int().positive().max(300_000).default(30_000),
  inputVariables: z.array(z.string()).default([]),
  outputVariable: z.string().min(1).optional(),
  runtime: z.string().default("auto"),
  isolation: IsolationSchema.optional(),
  expectedDuration: ExecutionRequestSchema.shape.expectedDurationMs,
  packages: ExecutionRequestSchema.shape.packages,
});
export type CodeNodeConfig = z.input<typeof CodeNodeConfigSchema>;

export interface CodeNodeResult {
  language: Language;
  output: JsonValue;
  stdout: string;
  stderr: string;
  /** stdout lines, then stderr lines prefixed "ERROR: ", as the seed's code node logs them. */
  logs: string[];
  metadata: { executionTime: number; sandboxId?: string; runtime: string };
}

let sharedRouter: Router | undefined;

/**
 * Runs a workflow engine's code node. The context's variables (all of them, or only
 * `inputVariables`) become the code's inputs, passed as data; the result has the seed's shape,
 * under `outputVariable` when one is set. An invalid node or context throws ValidationError before
 * anything runs; everything after that (the code failing, or no runtime able to run it) throws
 * CodeExecutionError, so an engine that catches that class catches every execution failure.
 */
export async function executeCodeNode(
  config: CodeNodeConfig,
  context: Record<string, unknown>,
  options: { router?: Router } = {},
): Promise<CodeNodeResult | Record<string, CodeNodeResult>> {
  // Worded as the seed's code node words it; engines match on "Unsupported language".
  const language = (config as { language?: unknown }).language;
  if (!LanguageSchema.safeParse(language).success) {
    throw new ValidationError(`Unsupported language: ${String(language)}`, [{ path: "language", message: "unsupported language" }]);
  }
  const parsed = CodeNodeConfigSchema.safeParse(config);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join(".") || "(config)", message: i.message }));
    throw new ValidationError(`invalid code node: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues);
  }
  const node = parsed.data;
  const inputs = contextInputs(node.inputVariables, context);
  const router = options.router ?? (sharedRouter ??= createRouter());
  let result: ExecutionResult;
  try {
    result = await router.execute({
      language: node.language,
      code: node.code,
      inputs,
      runtime: node.runtime,
      timeoutMs: node.timeout,
      ...(node.isolation ? { isolation: node.isolation } : {}),
      ...(node.expectedDuration !== undefined ? { expectedDurationMs: node.expectedDuration } : {}),
      ...(node.packages?.length ? { packages: node.packages } : {}),
    });
  } catch (error) {
    // A node whose fields all parsed can still name a runtime that does not exist: that is the
    // node's fault, and stays a ValidationError. Anything else is the platform failing the node.
    if (error instanceof ValidationError) throw error;
    throw new CodeExecutionError((error as Error).message, node.language, null, { cause: error });
  }
  if (!result.ok) {
    const e = result.error!;
    throw new CodeExecutionError(`${e.name}: ${e.message}${e.traceback ? `\n${e.traceback}` : ""}`, node.language, result);
  }
  const shaped = shape(result);
  return node.outputVariable ? { [node.outputVariable]: shaped } : shaped;
}

/** The node's inputs: each must be JSON, and a value that is not names its variable. */
function contextInputs(inputVariables: string[], context: Record<string, unknown>): Record<string, JsonValue> {
  const inputs: Record<string, JsonValue> = {};
  const names = inputVariables.length ? inputVariables : Object.keys(context);
  for (const name of names) {
    if (!(name in context)) continue;
    const problem = findJsonProblem(context[name], name);
    if (problem) {
      throw new ValidationError(`context variable "${name}" is not JSON (at ${problem.path}: ${problem.message})`, [problem]);
    }
    inputs[name] = context[name] as JsonValue;
  }
  return inputs;
}

function shape(result: ExecutionResult): CodeNodeResult {
  const lines = (text: string) => (text ? text.replace(/\n$/, "").split("\n") : []);
  return {
    language: result.language,
    output: result.output,
    stdout: result.stdout,
    stderr: result.stderr,
    logs: [...lines(result.stdout), ...lines(result.stderr).map((line) => `ERROR: ${line}`)],
    metadata: {
      executionTime: result.metadata.durationMs,
      ...(result.metadata.sandboxId ? { sandboxId: result.metadata.sandboxId } : {}),
      runtime: result.runtime,
    },
  };
}
