import { z } from "zod";
import { JsonValueSchema, LanguageSchema, SessionExecuteSchema } from "coderouter";

/** POST /v1/sessions/:id/execute: the library's session options without callbacks and signal, and the code. */
export const HttpSessionExecuteSchema = SessionExecuteSchema.omit({ signal: true, onStdout: true, onStderr: true }).extend({ code: z.string() });

/**
 * The seed's bodies. They are not strict: the seed's clients send fields (agent, provider) that
 * meant something to the seed and mean nothing here.
 */
export const SeedSessionExecuteSchema = z.object({
  session_id: z.string(),
  code: z.string(),
  inputs: z.record(z.string(), JsonValueSchema).optional(),
});

export const SeedSessionSchema = z.object({
  environment: z.string().optional(),
  language: LanguageSchema.optional(),
});

export const SeedFileSchema = z.object({
  session_id: z.string().min(1),
  file_path: z.string().min(1),
  content: z.string().describe("base64"),
});
