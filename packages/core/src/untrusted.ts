import { ValidationError } from "./errors.js";
import { parseExactJson } from "./exact-json.js";
import { ArtifactSchema, ExecutionErrorSchema, JsonValueSchema, MAX_INPUT_DEPTH, type Artifact, type ExecutionError, type JsonValue } from "./schemas.js";
import { z } from "zod";

/** Refuses inputs nested deeper than MAX_INPUT_DEPTH, counted without recursion (the host's stack is finite too). */
export function checkInputDepth(inputs: unknown): void {
  const stack: [unknown, number][] = [[inputs, 1]];
  while (stack.length) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== "object") continue;
    if (depth > MAX_INPUT_DEPTH) {
      throw new ValidationError(`invalid request: inputs nest deeper than ${MAX_INPUT_DEPTH} levels`, [
        { path: "inputs", message: `nested deeper than ${MAX_INPUT_DEPTH} levels` },
      ]);
    }
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
}

/**
 * What a wrapper reports on its result channel. The code it runs can write there too, so the host
 * reads it as untrusted input: anything else than this shape is a protocol error, never a throw.
 */
const ReportedSchema = z
  .object({ output: JsonValueSchema.optional(), error: ExecutionErrorSchema.optional(), artifacts: z.array(ArtifactSchema).optional() })
  .strict();
export type Reported = { output?: JsonValue; error?: ExecutionError; artifacts?: Artifact[] };

/** The largest message a host reads from a child or worker before it gives up on it. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Parses one JSON message from an untrusted channel (integers kept exact): the value, or why it is unreadable. */
export function parseUntrusted(text: string): { ok: true; value: unknown } | { ok: false; why: string } {
  if (text.length > MAX_MESSAGE_BYTES) return { ok: false, why: `a message of more than ${MAX_MESSAGE_BYTES} bytes` };
  try {
    return { ok: true, value: parseExactJson(text) };
  } catch (error) {
    return { ok: false, why: `unreadable JSON (${(error as Error).message})` };
  }
}

/** A reported result checked against the wrappers' shape. */
export function checkReported(value: unknown): { ok: true; reported: Reported } | { ok: false; why: string } {
  const parsed = ReportedSchema.safeParse(value);
  return parsed.success ? { ok: true, reported: parsed.data } : { ok: false, why: "a result that does not have the wrappers' shape" };
}

/**
 * The error of an execution whose channel to the host carried something the wrapper never writes:
 * the code wrote to it (garbage, a forged or oversized message). The worker behind it was stopped.
 */
export function protocolError(why: string): ExecutionError {
  return {
    kind: "runtime",
    name: "ProtocolError",
    message: `the execution's channel to the host carried ${why}; the code wrote to the wrapper's channel (fd 3), so its worker was stopped and replaced`,
  };
}
