import { z } from "zod";
import { JsonInputsSchema, LanguageSchema, SessionExecuteSchema } from "coderouter";

/** POST /v1/sessions/:id/execute: the library's session options without callbacks and signal, and the code. */
export const HttpSessionExecuteSchema = SessionExecuteSchema.omit({ signal: true, onStdout: true, onStderr: true }).extend({ code: z.string() });

/** POST /v1/sessions/:id/packages: the specs to install (pip for Python, npm for JavaScript). */
export const HttpInstallSchema = z.object({ packages: z.array(z.string()).min(1).max(100) }).strict();

/**
 * The seed's bodies. They are not strict: the seed's clients send fields (agent, provider) that
 * meant something to the seed and mean nothing here.
 */
export const SeedSessionExecuteSchema = z.object({
  session_id: z.string(),
  code: z.string(),
  inputs: JsonInputsSchema.optional(),
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

/** POST /api/e2b/install_package: seed 003's install_package tool as a route. */
export const SeedInstallSchema = z.object({
  session_id: z.string().min(1),
  package: z.string().min(1),
});
