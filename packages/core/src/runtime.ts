import type { z } from "zod";
import type { InstallOptions, InstallOutcome } from "./packages.js";
import type { Isolation, JsonValue, Language, NormalizedRequest, RuntimeId, RuntimeResult } from "./schemas.js";

/** What a runtime can do, declared up front so the router can rule it in or out without running it. */
export interface Capabilities {
  languages: Language[];
  /**
   * Why a language this runtime does not run cannot run here, when the reason is worth more than
   * "does not run it" (a V8 isolate has no processes, so no shell): `explain` and the router's
   * refusal quote it.
   */
  notRun?: Partial<Record<Language, string>>;
  /** The strongest isolation this runtime can give on this host right now. */
  isolation: Isolation;
  /** Longest run it accepts; requests expected to run longer are ruled out. */
  maxDurationMs: number;
  /** Typical time from execute() to the user's first line running, measured on a warm runtime. */
  startupMs: number;
  costPerSecondUsd: number;
  network: boolean;
  /** Whether user code can use third-party packages: installed locally, installable, or none. */
  packages: "local" | "installable" | "none";
  /**
   * Whether a one-shot request's `packages` are installed before its code runs, and when not, why
   * (said by `explain`). Without it, a runtime whose packages are "installable" installs them and
   * any other refuses the request.
   */
  oneShotPackages?: { installs: true } | { installs: false; why: string };
  sessions: boolean;
  location: "local" | "remote";
  /**
   * Runs code in an emulated system (WebAssembly): no processes, no host files, no native
   * extensions. The router prefers a native interpreter when one can take the request.
   */
  emulated?: boolean;
  /**
   * The expected durations this runtime is best at (a batch cluster: hours, not seconds). Inside
   * the range it is favoured, outside it is held back; without one, duration counts by location.
   */
  preferredDurationMs?: { min?: number; max?: number };
}

export interface Availability {
  available: boolean;
  /** Why it is (un)available, in words a user can act on. */
  reason: string;
  /** How to make it available, when it is not. */
  fix?: string;
}

export interface Runtime {
  readonly id: RuntimeId;
  capabilities(): Capabilities;
  availability(): Promise<Availability>;
  /**
   * Runs one request. Resolves with ok:false for any failure of the user's code; rejects only with an
   * InfrastructureError (the backend, not the code, failed) so the router can fall back.
   */
  execute(request: NormalizedRequest): Promise<RuntimeResult>;
  /**
   * Of the modules the code imports, those this runtime cannot provide. Lets the router favour a
   * runtime with packages over one that would fail with ModuleNotFoundError.
   */
  missingModules?(language: Language, modules: string[], isolation?: Isolation): Promise<string[]>;
  /** Sizes of the runtime's warm pools, for metrics: pool name → resources ready now. */
  poolSizes?(): Record<string, number>;
  /** Frees every process, pool and handle the runtime owns. Idempotent. */
  close(): Promise<void>;
}

/** Settings every runtime receives from the router's own configuration. */
export interface SharedSettings {
  defaultTimeoutMs: number;
  maxOutputBytes: number;
}

/**
 * The version of the runtime contract (Runtime, Capabilities, RuntimeDefinition) this build
 * implements. A definition carries the version of the coderouter it was built with, stamped by
 * defineRuntime; the router refuses one built for another contract instead of failing later.
 */
export const RUNTIME_CONTRACT_VERSION = 1;

/**
 * A backend as the registry sees it: its own settings (read from the environment by the router,
 * validated by this schema, named after the variables users set) and a factory.
 * Each runtime package's default export is one of these; a plug-in passes its own to
 * `createRouter({ runtimes: [...] })`.
 */
export interface RuntimeDefinition<S extends z.ZodType = z.ZodType> {
  /** The contract this definition implements; defineRuntime fills it in. */
  contractVersion: number;
  id: RuntimeId;
  description: string;
  /** Maps each environment variable this runtime reads to its settings key. */
  env: Record<string, string>;
  settings: S;
  create(settings: z.output<S>, shared: SharedSettings): Runtime;
}

/** Declares a runtime: built-ins and plug-ins alike. The contract version is this build's. */
export function defineRuntime<S extends z.ZodType>(
  definition: Omit<RuntimeDefinition<S>, "contractVersion"> & { contractVersion?: number },
): RuntimeDefinition<S> {
  return { contractVersion: RUNTIME_CONTRACT_VERSION, ...definition };
}

/** What a runtime needs to open a session; the router fills in the defaults. */
export interface SessionOptions {
  /** The session's first language; any other the runtime has can be run in it later. */
  language: Language;
  isolation: Isolation;
  memoryMb?: number;
  env?: Record<string, string>;
  network?: boolean;
  /**
   * How long the session may sit idle before it is closed; a remote runtime keeps its own
   * resource's life in step with it, so nothing outlives the session if this process dies.
   */
  idleTimeoutMs?: number;
}

export interface FileEntry {
  name: string;
  /** Relative to the session's working directory. */
  path: string;
  type: "file" | "directory";
  size: number;
}

/**
 * A session's files, confined to its working directory. Paths reach a runtime relative to it
 * (the router maps `/workspace/...` with workspacePath()); `..` and symlinks out are refused, and
 * a missing path is a FileNotFoundError.
 */
export interface SessionFiles {
  write(path: string, data: string | Uint8Array): Promise<void>;
  read(path: string): Promise<Buffer>;
  list(path?: string): Promise<FileEntry[]>;
  remove(path: string): Promise<void>;
}

/**
 * A workspace: one working directory shared by every language of the session, each language with
 * an interpreter of its own started on first use, whose variables, imports and definitions
 * persist between executions. `execute` runs the request's own language.
 */
export interface RuntimeSession {
  readonly runtime: RuntimeId;
  /** The language the session was opened for. */
  readonly language: Language;
  /** The languages its executions may use. */
  readonly languages: readonly Language[];
  /**
   * The working directory as the session's code sees it: WORKSPACE where the runtime gives code
   * that path, a host path where it cannot (plain processes), null without files (an isolate).
   */
  readonly workspace: string | null;
  /** False once the session's worker is gone (closed, timed out, crashed). */
  readonly alive: boolean;
  execute(request: NormalizedRequest): Promise<RuntimeResult>;
  files: SessionFiles;
  environment(): Promise<Record<string, JsonValue>>;
  /** Installs packages into this session only; absent when the runtime cannot. Rejects with PackageInstallError. */
  installPackages?(packages: string[], options: InstallOptions): Promise<InstallOutcome>;
  close(): Promise<void>;
}

/** A runtime that keeps sessions implements this as well. */
export interface SessionRuntime extends Runtime {
  openSession(options: SessionOptions): Promise<RuntimeSession>;
}
