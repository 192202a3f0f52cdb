import {
  createDebug,
  executionResult,
  InfrastructureError,
  NoRuntimeAvailableError,
  normalizeRequest,
  PackageInstallError,
  parseRequest,
  ConfigError,
  RouterClosedError,
  RuntimeUnavailableError,
  SessionClosedError,
  TooManySessionsError,
  ValidationError,
  type Attempt,
  type Availability,
  type Candidate,
  type Capabilities,
  type ExecutionRequest,
  type ExecutionRequestInput,
  type ExecutionResult,
  type NormalizedRequest,
  type RoutingDecision,
  type Runtime,
  type RuntimeId,
  type RuntimeSession,
  type SessionRuntime,
} from "@coderouter/core";
import { loadEnv } from "./env.js";
import { readRouterSettings, type RouterSettings } from "./config.js";
import { importedModules } from "./imports.js";
import { withModuleHint } from "./module-hint.js";
import { pluginsFromEnv } from "./builtins.js";
import { Registry, type RuntimePlugin } from "./registry.js";
import { describeChoice, installsPackages, ruleOut, score } from "./scoring.js";
import { Session, SessionRequestSchema, type SessionInfo, type SessionRequest } from "./sessions.js";

const log = createDebug("coderouter:router");

export interface RouterOptions {
  /** Variables to read settings from; default: process.env plus a `.env` file in the working directory. */
  env?: Record<string, string | undefined>;
  /** Path of a dotenv file to read, or false for none; default `.env`. Ignored when `env` is given. */
  dotenv?: string | false;
  /** Overrides of the router's settings; they win over the environment. */
  settings?: Partial<RouterSettings>;
  /** Overrides of each runtime's own settings (e.g. `{ subprocess: { pythonBin: "/usr/bin/python3" } }`). */
  runtimeSettings?: Partial<Record<RuntimeId, Record<string, unknown>>>;
  /**
   * Runtimes besides the built-ins: definitions made with defineRuntime (plug-ins), or instances.
   * One with a built-in's id replaces it. The record form maps ids to instances (embedding, tests).
   */
  runtimes?: RuntimePlugin[] | Partial<Record<RuntimeId, Runtime>>;
  /** false: only the runtimes given in `runtimes`, none of the built-ins. Default true. */
  builtinRuntimes?: boolean;
}

export interface RuntimeStatus {
  id: RuntimeId;
  installed: boolean;
  enabled: boolean;
  available: boolean;
  reason: string;
  fix?: string;
  capabilities?: Capabilities;
}

interface Evaluation {
  candidate: Candidate;
  runtime?: Runtime;
}

export class Router {
  readonly settings: RouterSettings;
  private readonly registry: Registry;
  private closed = false;
  private readonly openSessions = new Map<string, Session>();
  /** The registered runtimes that CODEROUTER_RUNTIMES (or the option) lets the router use. */
  private readonly enabled: ReadonlySet<RuntimeId>;

  constructor(options: RouterOptions = {}) {
    const env = options.env ?? loadEnv(options.dotenv);
    this.settings = readRouterSettings(env, options.settings);
    const plugins = Array.isArray(options.runtimes) ? options.runtimes : Object.values(options.runtimes ?? {}).filter((r): r is Runtime => r !== undefined);
    this.registry = new Registry(
      env,
      { defaultTimeoutMs: this.settings.defaultTimeoutMs, maxOutputBytes: this.settings.maxOutputBytes },
      this.settings.availabilityTtlMs,
      [...plugins, ...pluginsFromEnv(this.settings.runtimePlugins)],
      options.runtimeSettings,
      options.builtinRuntimes ?? true,
    );
    const ids = this.registry.ids();
    const unknown = this.settings.enabledRuntimes?.find((id) => !this.registry.has(id));
    if (unknown !== undefined) {
      const variable = options.settings?.enabledRuntimes ? "option enabledRuntimes" : "CODEROUTER_RUNTIMES";
      throw new ConfigError(`invalid ${variable} (got ${JSON.stringify(unknown)}): each entry must be one of: ${ids.join(", ")}`, variable);
    }
    this.enabled = new Set(this.settings.enabledRuntimes ?? ids);
  }

  /** Runs the request on the best runtime (or the one asked for) and returns one result shape. */
  async execute(input: ExecutionRequestInput): Promise<ExecutionResult> {
    const request = parseRequest(input);
    const { decision, ranked } = await this.decide(request);
    const normalized = this.normalize(request);
    const attempts: Attempt[] = decision.attempts;
    for (const { runtime, candidate } of ranked) {
      const started = performance.now();
      try {
        const result = await runtime!.execute(normalized);
        attempts.push({
          runtime: runtime!.id,
          outcome: result.ok ? "ok" : "code_error",
          durationMs: round(performance.now() - started),
        });
        decision.selected = runtime!.id;
        if (attempts.length > 1) decision.reason = `${decision.reason}; ran on ${runtime!.id} after ${attempts.length - 1} failed attempt(s)`;
        return executionResult(withModuleHint(result, request.code), decision);
      } catch (error) {
        // The request's own fault (a bad spec, a package the index has not): another runtime cannot mend it.
        if (error instanceof ValidationError || error instanceof PackageInstallError) throw error;
        const message = (error as Error).message;
        log(`${candidate.runtime} failed: ${message}`);
        attempts.push({ runtime: runtime!.id, outcome: "infrastructure_error", durationMs: round(performance.now() - started), error: message });
        this.registry.invalidate(runtime!.id);
        if (decision.requested !== "auto") {
          throw new RuntimeUnavailableError(decision.requested, message, decision);
        }
      }
    }
    decision.selected = null;
    decision.reason = `every eligible runtime failed: ${attempts.map((a) => `${a.runtime}: ${a.error}`).join("; ")}`;
    throw new NoRuntimeAvailableError(`no runtime could run this request: ${decision.reason}`, decision);
  }

  /** The routing decision for a request, without running anything. */
  async explain(input: ExecutionRequestInput): Promise<RoutingDecision> {
    return (await this.decide(parseRequest(input), { explainOnly: true })).decision;
  }

  /**
   * Every runtime the router knows: installed, enabled, available, why, and how to fix it.
   * `enabledOnly`: only those CODEROUTER_RUNTIMES lets the router use, so the others are neither
   * loaded nor probed (the HTTP server's start-up asks this way).
   */
  async runtimes({ enabledOnly = false }: { enabledOnly?: boolean } = {}): Promise<RuntimeStatus[]> {
    const ids = this.registry.ids().filter((id) => !enabledOnly || this.enabled.has(id));
    return Promise.all(
      ids.map(async (id): Promise<RuntimeStatus> => {
        const enabled = this.enabled.has(id);
        const slot = await this.registry.load(id);
        if (slot.state === "missing") {
          return { id, installed: false, enabled, available: false, reason: slot.error.message, ...(slot.error.fix ? { fix: slot.error.fix } : {}) };
        }
        const availability = await this.registry.availability(slot.runtime);
        return {
          id,
          installed: true,
          enabled,
          available: enabled && availability.available,
          reason: enabled ? availability.reason : `disabled: not listed in CODEROUTER_RUNTIMES (${availability.reason})`,
          ...(enabled ? (availability.fix ? { fix: availability.fix } : {}) : { fix: `add ${id} to CODEROUTER_RUNTIMES` }),
          capabilities: slot.runtime.capabilities(),
        };
      }),
    );
  }

  /**
   * Opens a session: variables, imports, definitions and files kept between executions, on the
   * runtime asked for or the best one that keeps sessions for the language.
   */
  async openSession(input: SessionRequest): Promise<Session> {
    const parsed = SessionRequestSchema.safeParse(input);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.join(".") || "(session)", message: i.message }));
      throw new ValidationError(`invalid session: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues);
    }
    const options = parsed.data;
    if (this.closed) throw new RouterClosedError();
    if (this.openSessions.size >= this.settings.maxSessions) throw new TooManySessionsError(this.openSessions.size, this.settings.maxSessions);
    const request = parseRequest({ language: options.language, code: "", runtime: options.runtime, isolation: options.isolation, network: options.network });
    const { decision, ranked } = await this.decide(request);
    const isolation = options.isolation ?? this.settings.defaultIsolation;
    const idleTimeoutMs = options.idleTimeoutMs ?? this.settings.sessionIdleTimeoutMs;
    const refusals: string[] = [];
    let chosen: SessionRuntime | undefined;
    let inner: RuntimeSession | undefined;
    for (const { runtime } of ranked) {
      if (!runtime!.capabilities().sessions || !("openSession" in runtime!)) {
        refusals.push(`${runtime!.id}: keeps no sessions`);
        continue;
      }
      try {
        inner = await (runtime as SessionRuntime).openSession({
          language: options.language,
          isolation,
          ...(options.memoryMb ? { memoryMb: options.memoryMb } : {}),
          ...(options.env ? { env: options.env } : {}),
          ...(options.network ? { network: options.network } : {}),
          idleTimeoutMs,
        });
        chosen = runtime as SessionRuntime;
        break;
      } catch (error) {
        if (!(error instanceof InfrastructureError)) throw error;
        refusals.push(`${runtime!.id}: ${error.message}`);
      }
    }
    if (!chosen || !inner) {
      const why = `no runtime could open a ${options.language} session (${refusals.join("; ") || "none can take the request"})`;
      if (decision.requested !== "auto") throw new RuntimeUnavailableError(decision.requested, why, decision);
      throw new NoRuntimeAvailableError(why, decision);
    }
    const session = new Session(
      inner,
      {
        timeoutMs: options.timeoutMs ?? this.settings.defaultTimeoutMs,
        idleTimeoutMs,
        maxOutputBytes: this.settings.maxOutputBytes,
        isolation,
        memoryMb: options.memoryMb,
        network: options.network,
      },
      (ended) => this.openSessions.delete(ended.id),
    );
    this.openSessions.set(session.id, session);
    log(`session ${session.id} opened on ${chosen.id}`);
    return session;
  }

  /** An open session by id, or a SessionClosedError saying it has ended (or never existed). */
  session(id: string): Session {
    const session = this.openSessions.get(id);
    if (!session) throw new SessionClosedError(id, "no open session has this id");
    return session;
  }

  /** Warm pool sizes of every runtime loaded so far, for metrics. */
  async poolSizes(): Promise<{ runtime: RuntimeId; pool: string; size: number }[]> {
    return (await this.registry.loaded()).flatMap((runtime) =>
      Object.entries(runtime.poolSizes?.() ?? {}).map(([pool, size]) => ({ runtime: runtime.id, pool, size })),
    );
  }

  sessions(): SessionInfo[] {
    return [...this.openSessions.values()].map((s) => s.info());
  }

  /** Frees every session, and every runtime's processes, pools and sandboxes. The router refuses work afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.openSessions.values()].map((s) => s.close()));
    await this.registry.close();
  }

  private normalize(request: ExecutionRequest): NormalizedRequest {
    return normalizeRequest(request, {
      timeoutMs: this.settings.defaultTimeoutMs,
      maxOutputBytes: this.settings.maxOutputBytes,
      isolation: this.settings.defaultIsolation,
      memoryMb: this.settings.memoryMb,
    });
  }

  private async decide(request: ExecutionRequest, { explainOnly = false } = {}): Promise<{ decision: RoutingDecision; ranked: Evaluation[] }> {
    if (this.closed) throw new RouterClosedError();
    const requested = request.runtime ?? "auto";
    const need = {
      language: request.language,
      isolation: request.isolation ?? this.settings.defaultIsolation,
      expectedDurationMs: request.expectedDurationMs,
      network: request.network,
      packages: request.packages,
    };
    const all = this.registry.ids();
    if (requested !== "auto" && !this.registry.has(requested)) {
      throw new ValidationError(`unknown runtime "${requested}": use auto or one of ${all.join(", ")}`, [
        { path: "runtime", message: `not a registered runtime (registered: ${all.join(", ")})` },
      ]);
    }
    const ids = requested === "auto" ? all : [requested];
    const modules = importedModules(request.language, request.code);
    const evaluations = await Promise.all(ids.map((id) => this.evaluate(id, need, modules)));
    for (const id of all) {
      if (!ids.includes(id)) evaluations.push({ candidate: { runtime: id, eligible: false, reason: `not requested (runtime: "${requested}")` } });
    }
    const ranked = evaluations.filter((e) => e.candidate.eligible).sort((a, b) => b.candidate.score! - a.candidate.score!);
    const candidates = [...ranked, ...evaluations.filter((e) => !e.candidate.eligible)].map((e) => e.candidate);
    const winner = ranked[0]?.candidate;
    const decision: RoutingDecision = {
      requested,
      selected: winner?.runtime ?? null,
      reason: winner
        ? requested === "auto"
          ? describeChoice(winner, candidates)
          : `requested explicitly`
        : requested === "auto"
          ? "no runtime can take this request"
          : (evaluations.find((e) => e.candidate.runtime === requested)?.candidate.reason ?? "unknown runtime"),
      candidates,
      attempts: [],
    };
    log(`decision ${requested} → ${decision.selected ?? "none"}: ${decision.reason}`);
    if (!explainOnly && !winner) {
      if (requested !== "auto") throw new RuntimeUnavailableError(requested, decision.reason, decision);
      const why = candidates.map((c) => `${c.runtime}: ${c.reason}`).join("; ");
      throw new NoRuntimeAvailableError(`no runtime can take this ${request.language} request: ${why}`, decision);
    }
    return { decision, ranked };
  }

  private async evaluate(id: RuntimeId, need: Parameters<typeof ruleOut>[2], modules: string[]): Promise<Evaluation> {
    const out = (reason: string): Evaluation => ({ candidate: { runtime: id, eligible: false, reason } });
    if (!this.enabled.has(id)) return out("disabled: not listed in CODEROUTER_RUNTIMES");
    const slot = await this.registry.load(id);
    if (slot.state === "missing") return out(slot.error.message);
    const runtime = slot.runtime;
    // Availability first: what a runtime can give may depend on its probe (a sandbox that works here).
    const availability: Availability = await this.registry.availability(runtime);
    const caps = runtime.capabilities();
    const reason = ruleOut(caps, availability, need);
    if (reason) return out(reason);
    // A runtime that installs the request's packages is not asked what it lacks before it has them.
    const installing = Boolean(need.packages?.length) && installsPackages(caps);
    const missing =
      modules.length && runtime.missingModules && !installing ? await runtime.missingModules(need.language, modules, need.isolation).catch(() => []) : [];
    const { score: total, breakdown } = score(caps, need, missing);
    const why = installing
      ? `eligible; installs ${need.packages!.join(", ")} before the run`
      : missing.length
        ? `eligible; cannot import ${missing.join(", ")}`
        : `eligible (${caps.isolation} isolation, ~${caps.startupMs} ms start-up, ${caps.location})`;
    return { candidate: { runtime: id, eligible: true, score: total, breakdown, reason: why }, runtime };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Creates a router. Settings come from the environment (and `.env`), overridden by `options`. */
export function createRouter(options: RouterOptions = {}): Router {
  return new Router(options);
}
