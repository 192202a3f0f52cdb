// `coderouter/runtime-kit`: what a runtime author needs beyond the contract exported by `coderouter`.
// Every built-in runtime is written with these; a plug-in that uses them behaves like the built-ins
// (the same output conversion, limits, error wording and JavaScript preparation), which is most of
// what the conformance suite checks.

// Settings: a definition's schema fields read from strings (env) or typed options.
export { setting, readSettings } from "@coderouter/core";
// Requests: validation and the defaults a runtime receives.
export { parseRequest, normalizeRequest, isolationAtLeast, type RequestDefaults } from "@coderouter/core";
// Results: one shape for every runtime, limits worded the same everywhere.
export { runtimeResult, limitError, type ResultFields, type LimitKind } from "@coderouter/core";
export { watchLimits, type Ending, type Limits } from "@coderouter/core";
export { OutputStream } from "@coderouter/core";
// JavaScript and TypeScript: top-level await and return, the last expression, user line numbers.
export { prepareJavaScript, asyncFunctionSource, inUserPositions, type PreparedJavaScript } from "@coderouter/core";
export { SourcePositions } from "@coderouter/core";
// The shared runner programs (input injection, output conversion), as files and as source text.
export { runnerFiles, runnersDir, pythonRunnerArgs, toOutput } from "@coderouter/core";
export { pythonRunnerSource, javascriptRunnerSource, commonJsSource } from "@coderouter/core";
// Logging under DEBUG=coderouter:*.
export { createDebug } from "@coderouter/core";
// The contract again, so a runtime module can import everything from one place.
export {
  defineRuntime,
  RUNTIME_CONTRACT_VERSION,
  InfrastructureError,
  RuntimeClosedError,
  RuntimeNotInstalledError,
  type Runtime,
  type RuntimeDefinition,
  type Capabilities,
  type Availability,
  type SharedSettings,
  type NormalizedRequest,
  type RuntimeResult,
  type ExecutionError,
  type SessionRuntime,
  type RuntimeSession,
  type SessionOptions,
  type SessionFiles,
  type FileEntry,
} from "@coderouter/core";
