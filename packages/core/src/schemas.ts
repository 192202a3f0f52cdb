import { z } from "zod";

/**
 * The languages of source code, "bash": a script run by GNU bash as a process of its own, and
 * "wasm": a WebAssembly module (WASI preview 1) whose bytes are the request's `code` in base64.
 */
export const LANGUAGES = ["python", "javascript", "typescript", "bash", "wasm"] as const;
export const LanguageSchema = z.enum(LANGUAGES);
export type Language = z.infer<typeof LanguageSchema>;
/** The languages whose `code` is source text. */
export type SourceLanguage = Exclude<Language, "wasm">;
/** The languages whose `output` is the value of the code's last expression (bash has none: see README). */
export type ExpressionLanguage = Exclude<SourceLanguage, "bash">;

/** The runtimes that ship with coderouter. A plug-in adds its own id (see defineRuntime). */
export const RUNTIME_IDS = ["isolate", "subprocess", "wasm", "e2b", "bacalhau"] as const;
/** Any name a runtime registers under: it appears in metrics labels and URLs, so it is kept plain. */
export const RuntimeIdSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, "a runtime id: lower-case letters, digits, - and _, starting with a letter");
export type RuntimeId = string;

/** Names users know from other products, mapped to the runtime that replaces them. */
export const RUNTIME_ALIASES: Readonly<Record<string, RuntimeId>> = {
  vm2: "isolate",
  wasmedge: "wasm",
  python: "subprocess",
  local: "subprocess",
};

/** Ordered from weakest to strongest: a runtime satisfies a need when its level is at least as high. */
export const ISOLATION_LEVELS = ["none", "process", "sandbox", "vm"] as const;
export const IsolationSchema = z.enum(ISOLATION_LEVELS);
export type Isolation = z.infer<typeof IsolationSchema>;

export function isolationAtLeast(have: Isolation, need: Isolation): boolean {
  return ISOLATION_LEVELS.indexOf(have) >= ISOLATION_LEVELS.indexOf(need);
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export const JsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(JsonValueSchema), z.record(z.string(), JsonValueSchema)]),
);

// Whether the id is registered is the router's to say: plug-ins add ids the schema cannot know.
const runtimeChoice = z
  .string()
  .transform((value) => (value === "auto" ? "auto" : (RUNTIME_ALIASES[value] ?? value)))
  .pipe(z.union([z.literal("auto"), RuntimeIdSchema]));

/** Env var names a request may set; the value must be a plain string. */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name");

/**
 * A package requirement as pip or npm takes it ("pandas", "requests==2.32.3", "@scope/pkg@1").
 * Never an option: it is passed as one argument, and a leading "-" would make it a flag.
 */
export const PackageSpecSchema = z
  .string()
  .regex(/^[A-Za-z0-9@][A-Za-z0-9._\-/@=<>!~[\],^*+ ]*$/, "a package name with an optional version, e.g. pandas or requests==2.32.3");

export const ExecutionRequestSchema = z
  .object({
    language: LanguageSchema,
    code: z.string(),
    inputs: z.record(z.string(), JsonValueSchema).optional(),
    runtime: runtimeChoice.optional(),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .max(24 * 3600_000)
      .optional(),
    isolation: IsolationSchema.optional(),
    expectedDurationMs: z.number().nonnegative().optional(),
    memoryMb: z
      .number()
      .int()
      .min(16)
      .max(1024 * 1024)
      .optional(),
    network: z.boolean().optional(),
    env: z.record(envName, z.string()).optional(),
    /** Arguments of a WebAssembly module (language "wasm"), after its name. */
    args: z.array(z.string()).max(1000).optional(),
    /** Third-party packages to install before the code runs (runtimes with installable packages only). */
    packages: z.array(PackageSpecSchema).max(100).optional(),
    signal: z.instanceof(AbortSignal).optional(),
    onStdout: z.custom<(chunk: string) => void>((v) => typeof v === "function").optional(),
    onStderr: z.custom<(chunk: string) => void>((v) => typeof v === "function").optional(),
  })
  .strict();

export type ExecutionRequestInput = z.input<typeof ExecutionRequestSchema>;
export type ExecutionRequest = z.output<typeof ExecutionRequestSchema>;

/**
 * What a runtime receives: a validated request with the router's defaults applied, so no runtime
 * has to know where a default comes from.
 */
export interface NormalizedRequest extends Omit<ExecutionRequest, "runtime" | "inputs" | "timeoutMs" | "isolation"> {
  inputs: Record<string, JsonValue>;
  timeoutMs: number;
  isolation: Isolation;
  memoryMb?: number;
  maxOutputBytes: number;
}

export const ERROR_KINDS = ["syntax", "runtime", "timeout", "memory", "output_limit", "killed"] as const;
export const ExecutionErrorSchema = z.object({
  kind: z.enum(ERROR_KINDS),
  name: z.string(),
  message: z.string(),
  traceback: z.string().optional(),
});
export type ExecutionError = z.infer<typeof ExecutionErrorSchema>;
export type ErrorKind = ExecutionError["kind"];

export const ScoreBreakdownSchema = z.record(z.string(), z.number());

export const CandidateSchema = z.object({
  runtime: RuntimeIdSchema,
  eligible: z.boolean(),
  score: z.number().optional(),
  breakdown: ScoreBreakdownSchema.optional(),
  reason: z.string(),
});
export type Candidate = z.infer<typeof CandidateSchema>;

export const AttemptSchema = z.object({
  runtime: RuntimeIdSchema,
  outcome: z.enum(["ok", "code_error", "infrastructure_error"]),
  durationMs: z.number(),
  error: z.string().optional(),
});
export type Attempt = z.infer<typeof AttemptSchema>;

export const RoutingDecisionSchema = z.object({
  requested: z.union([z.literal("auto"), RuntimeIdSchema]),
  selected: RuntimeIdSchema.nullable(),
  reason: z.string(),
  candidates: z.array(CandidateSchema),
  attempts: z.array(AttemptSchema),
});
export type RoutingDecision = z.infer<typeof RoutingDecisionSchema>;

export const ArtifactSchema = z.object({
  mimeType: z.string(),
  /** Text as it is; binary data (images, PDF) in base64. */
  data: z.string(),
  encoding: z.enum(["utf8", "base64"]),
});
export type Artifact = z.infer<typeof ArtifactSchema>;

export const ExecutionResultSchema = z.object({
  ok: z.boolean(),
  /** The same as `ok`, for clients written against the seeds' APIs (E2B-style `success`). */
  success: z.boolean(),
  runtime: RuntimeIdSchema,
  language: LanguageSchema,
  output: JsonValueSchema,
  stdout: z.string(),
  stderr: z.string(),
  /** A bash script's exit status, when it ended by itself (128 + n for signal n, as bash reports it). */
  exitCode: z.number().int().optional(),
  error: ExecutionErrorSchema.optional(),
  truncated: z.object({ stdout: z.boolean().optional(), stderr: z.boolean().optional() }).optional(),
  /** Rich results besides the output (charts, images, HTML), as E2B's interpreter displays them. */
  artifacts: z.array(ArtifactSchema).optional(),
  metadata: z.object({
    durationMs: z.number(),
    startupMs: z.number().optional(),
    sandboxId: z.string().optional(),
    costUsd: z.number().optional(),
    routing: RoutingDecisionSchema,
  }),
});
export type ExecutionResult = z.infer<typeof ExecutionResultSchema>;

/** What a runtime returns; the router adds the routing record. */
export type RuntimeResult = Omit<ExecutionResult, "metadata" | "success"> & {
  metadata: Omit<ExecutionResult["metadata"], "routing">;
};
