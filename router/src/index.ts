// The public surface of `coderouter`: what users call, and the types a runtime plug-in implements.
// What a runtime author needs beyond this (output capture, limits, the shared runners) is in
// `coderouter/runtime-kit`. Named exports only, so nothing internal leaks.

// The router, its options and what it reports.
export { createRouter, Router, type RouterOptions, type RuntimeStatus } from "./router.js";
export { RouterSettingsSchema, ROUTER_ENV, type RouterSettings } from "./config.js";
export type { RuntimePlugin } from "./registry.js";
export { Session, SessionRequestSchema, SessionExecuteSchema, type SessionInfo, type SessionRequest, type SessionExecuteOptions } from "./sessions.js";
export { executeCodeNode, CodeNodeConfigSchema, type CodeNodeConfig, type CodeNodeResult } from "./code-node.js";
export { importedModules } from "./imports.js";

// Requests and results.
export {
  LANGUAGES,
  LanguageSchema,
  ISOLATION_LEVELS,
  IsolationSchema,
  RUNTIME_IDS,
  RUNTIME_ALIASES,
  RuntimeIdSchema,
  JsonInputsSchema,
  JsonValueSchema,
  ExecutionRequestSchema,
  ExecutionResultSchema,
  ExecutionErrorSchema,
  ERROR_KINDS,
  RoutingDecisionSchema,
  CandidateSchema,
  AttemptSchema,
  ArtifactSchema,
  type Language,
  type SourceLanguage,
  type Isolation,
  type RuntimeId,
  type JsonValue,
  type ExecutionRequestInput,
  type ExecutionRequest,
  type ExecutionResult,
  type ExecutionError,
  type ErrorKind,
  type RoutingDecision,
  type Candidate,
  type Attempt,
  type Artifact,
} from "@coderouter/core";

// Errors: each with a stable `kind`.
export {
  CoderouterError,
  ValidationError,
  ConfigError,
  NoRuntimeAvailableError,
  RuntimeUnavailableError,
  InfrastructureError,
  RuntimeNotInstalledError,
  RuntimeClosedError,
  CodeExecutionError,
  SessionClosedError,
  RouterClosedError,
  TooManySessionsError,
  PackageInstallError,
  FAILURE_KINDS,
  type FailureKind,
  type ValidationIssue,
} from "@coderouter/core";

// The runtime contract a plug-in implements.
export {
  defineRuntime,
  RUNTIME_CONTRACT_VERSION,
  type Runtime,
  type RuntimeDefinition,
  type Capabilities,
  type Availability,
  type SharedSettings,
  type NormalizedRequest,
  type RuntimeResult,
  type SessionRuntime,
  type RuntimeSession,
  type SessionOptions,
  type SessionFiles,
  type FileEntry,
  type InstallOutcome,
  type InstallOptions,
} from "@coderouter/core";
