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
  /** The session's interpreter for this language runs the call (the session's own by default). */
  language: LanguageSchema.optional(),
  inputs: JsonInputsSchema.optional(),
});

/** The seed's environments (its templates, and the languages named plainly), each a session language. */
export const SEED_ENVIRONMENTS = {
  "e2b-python": "python",
  python: "python",
  node: "javascript",
  javascript: "javascript",
  typescript: "typescript",
  bash: "bash",
} as const;

/** Where the seed's `provider` opens the session: a runtime, or routed. */
export const SEED_PROVIDERS = ["auto", "e2b"] as const;

export const SeedSessionSchema = z.object({
  agent: z.string().optional(),
  environment: z
    .string()
    .refine((name) => Object.hasOwn(SEED_ENVIRONMENTS, name), {
      message: `unknown environment: accepted values are ${Object.keys(SEED_ENVIRONMENTS).join(", ")}`,
    })
    .optional(),
  provider: z.enum(SEED_PROVIDERS, { message: `unknown provider: accepted values are ${SEED_PROVIDERS.join(", ")}` }).optional(),
  language: LanguageSchema.optional(),
});

export const SeedFileSchema = z.object({
  session_id: z.string().min(1),
  file_path: z.string().min(1),
  content: z.base64({ message: "content must be base64 (RFC 4648, with padding)" }),
});

/** POST /api/e2b/install_package: seed 003's install_package tool as a route. */
export const SeedInstallSchema = z.object({
  session_id: z.string().min(1),
  package: z.string().min(1),
});
