import {
  bashInputVariables,
  InfrastructureError,
  isolationAtLeast,
  prepareJavaScript,
  RuntimeClosedError,
  RuntimeNotInstalledError,
  runtimeResult,
  type Availability,
  type Capabilities,
  type Language,
  type NormalizedRequest,
  type PreparedJavaScript,
  type RuntimeResult,
  type RuntimeSession,
  type SessionOptions,
  type SessionRuntime,
} from "@coderouter/core";
import { E2BSession } from "./session.js";
import { javascriptCell, preludeCell, pythonCell } from "./cells.js";
import { E2BServiceError, serviceError } from "./errors.js";
import { SandboxPool, type Lease } from "./pool.js";
import { log } from "./log.js";
import { installWrappers, runCommand } from "./commands.js";
import { runCell } from "./interpreter.js";
import { INSTALL_TIMEOUT_MS, runInContext, sandboxResult, type RunOutcome } from "./execution.js";
import { loadSdk, sandboxClass, type Context, type Sandbox, type SandboxClass } from "./sdk.js";
import type { E2BSettings } from "./settings.js";

/** Room past the execution's own timeout before the service may end the sandbox under it. */
const LIFE_MARGIN_MS = 30_000;

/**
 * E2B's Firecracker sandboxes through the real @e2b/code-interpreter SDK. Each execution gets a
 * fresh code context (a new kernel) in a sandbox from the pool; requests that ask for "sandbox"
 * or "vm" isolation get a sandbox no other execution has used, killed afterwards. A sandbox that
 * timed out, hit a limit or lost its kernel is killed, never lent again.
 */
export class E2BRuntime implements SessionRuntime {
  readonly id = "e2b" as const;
  /** Sessions hold sandboxes of their own, outside the pools; counted apart, killed on close. */
  private readonly sessions = new Set<E2BSession>();
  private readonly sessionCounts = { created: 0, killed: 0 };
  private readonly pools = new Map<boolean, SandboxPool>();
  private sandboxes: Promise<SandboxClass> | undefined;
  private closed = false;
  /**
   * The next context of each idle sandbox, created and given the prelude ahead of the request
   * that will use it: a new kernel takes longer to start than a trivial execution takes to run.
   */
  private readonly spares = new WeakMap<Sandbox, { language: Language; context: Promise<Context | undefined> }>();

  constructor(private readonly settings: E2BSettings) {}

  capabilities(): Capabilities {
    const s = this.settings;
    return {
      languages: [...s.languages],
      isolation: "vm",
      maxDurationMs: 24 * 3600_000,
      // A warm sandbox comes with a context already started; otherwise a sandbox is made (~0.6 s)
      // and a kernel started in it (~1.5–2 s on E2B). Commands (E2B_TEMPLATE=base) start none.
      startupMs: (s.poolSize > 0 ? 200 : 600) + (s.poolSize > 0 || s.template === "base" ? 0 : 1900),
      costPerSecondUsd: s.vcpus * s.priceVcpuSecondUsd + s.memoryGb * s.priceGbSecondUsd,
      network: true,
      packages: "installable",
      // A session is a sandbox of its own, with a context per language, in a code-interpreter template.
      sessions: s.template !== "base",
      location: "remote",
    };
  }

  async availability(): Promise<Availability> {
    const s = this.settings;
    if (s.enabled === false) {
      return { available: false, reason: "disabled by E2B_ENABLED=false", fix: "set E2B_ENABLED=true and E2B_API_KEY to use E2B" };
    }
    if (!s.apiKey && !s.debug) {
      return {
        available: false,
        reason: s.enabled ? "E2B_ENABLED=true but E2B_API_KEY is not set" : "no E2B_API_KEY is set",
        fix: "create a key at https://e2b.dev/dashboard and set E2B_API_KEY (E2B is then enabled by default)",
      };
    }
    let Sandbox: SandboxClass;
    try {
      Sandbox = await this.sandboxClass();
    } catch (error) {
      if (error instanceof RuntimeNotInstalledError) return { available: false, reason: error.hint, fix: error.fix };
      throw error;
    }
    try {
      await Sandbox.list({ limit: 1 }).nextItems();
    } catch (error) {
      const failure = serviceError(error, "list sandboxes", s);
      return { available: false, reason: `unreachable: ${failure.message}`, ...(failure.status === 401 ? { fix: "check E2B_API_KEY" } : {}) };
    }
    const where = s.apiUrl ?? `api.${s.domain ?? "e2b.app"}`;
    const pool = this.pools.get(false);
    return { available: true, reason: `ready (${where}, template ${s.template}${pool ? `, ${pool.ready} warm` : ""})` };
  }

  poolSizes(): Record<string, number> {
    return { "e2b.sandboxes": this.pools.get(false)?.ready ?? 0 };
  }

  /**
   * Sandboxes created and killed so far, across pools: equal once everything is closed. Orphans
   * are sandboxes the service made after their creation request had given up, found and killed.
   */
  counts(): { created: number; killed: number; orphansKilled: number } {
    const counts = { created: this.sessionCounts.created, killed: this.sessionCounts.killed, orphansKilled: 0 };
    for (const pool of this.pools.values()) {
      counts.created += pool.counts.created;
      counts.killed += pool.counts.killed;
      counts.orphansKilled += pool.counts.orphansKilled;
    }
    return counts;
  }

  /** Starts filling the warm pool now rather than on the first request. */
  async warm(): Promise<void> {
    (await this.pool(false)).refill();
  }

  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    if (this.closed) throw new RuntimeClosedError("e2b");
    const started = performance.now();
    // Refused here, before a sandbox is taken: a script's inputs must be able to be variables.
    if (request.language === "bash") bashInputVariables(request.inputs, request.env);
    let prepared: ReturnType<typeof prepareJavaScript> | undefined;
    if (request.language === "javascript" || request.language === "typescript") {
      // JavaScript is parsed here: a syntax error needs no sandbox to be reported.
      prepared = prepareJavaScript(request.code, request.language);
      if (!prepared.ok) return runtimeResult("e2b", request, started, { error: prepared.error });
    }
    const pool = await this.pool(Boolean(request.network));
    // "sandbox" or "vm" isolation: a sandbox no other execution has used, never lent again.
    const exclusive = isolationAtLeast(request.isolation, "sandbox");
    const lease = await this.acquire(pool, exclusive, request.signal);
    let reusable = !exclusive;
    let contextId: string | undefined;
    let limited = false;
    try {
      // A bash script is a command in every template (commands.run), never a kernel's cell.
      const run: RunOutcome =
        this.commandsOnly || request.language === "bash"
          ? { artifacts: [], ...(await this.runAsCommand(lease, request, prepared?.ok ? prepared : undefined)), startupMs: performance.now() - started }
          : await this.run(lease, request, prepared?.ok ? javascriptCell(request, prepared) : pythonCell(request), started);
      contextId = run.contextId;
      reusable &&= run.reusable;
      limited = run.limited === true;
      const result = sandboxResult(request, started, run, lease.sandbox.sandboxId, this.settings, prepared);
      const { error } = result;
      log.execute(
        `${request.language} in sandbox ${lease.sandbox.sandboxId}: ${error ? `${error.kind} ${error.name}` : "ok"}, ${Math.round(result.metadata.durationMs)} ms (${Math.round(run.startupMs)} ms to start)`,
      );
      return result;
    } catch (error) {
      reusable = false;
      throw error instanceof E2BServiceError || error instanceof RuntimeClosedError ? error : serviceError(error, "run the code", this.settings);
    } finally {
      this.giveBack(pool, lease, reusable, contextId, request.language, limited);
    }
  }

  /**
   * A session: a sandbox of its own, never pooled, with /workspace and a code context per
   * language; its life on E2B follows the session's idle timeout.
   */
  async openSession(options: SessionOptions): Promise<RuntimeSession> {
    if (this.closed) throw new RuntimeClosedError("e2b");
    if (this.commandsOnly) {
      throw new InfrastructureError(
        "e2b",
        `E2B_TEMPLATE=${this.settings.template} has no code interpreter to keep a session's state: use a code-interpreter template`,
      );
    }
    if (!(this.settings.languages as readonly string[]).includes(options.language)) {
      throw new InfrastructureError("e2b", `E2B_LANGUAGES (${this.settings.languages.join(",")}) does not include ${options.language}`);
    }
    const session = await E2BSession.open(
      await this.sandboxClass(),
      this.settings,
      {
        language: options.language,
        idleTimeoutMs: options.idleTimeoutMs ?? this.settings.sandboxTimeoutMs,
        ...(options.env ? { env: options.env } : {}),
        ...(options.network ? { network: options.network } : {}),
      },
      this.sessionCounts,
    );
    if (this.closed) {
      await session.close();
      throw new RuntimeClosedError("e2b");
    }
    this.sessions.add(session);
    for (const known of this.sessions) if (!known.alive) this.sessions.delete(known);
    return session;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...[...this.sessions].map((session) => session.close()), ...[...this.pools.values()].map((pool) => pool.close())]);
  }

  /** Templates without the code interpreter (E2B_TEMPLATE=base) run code through envd's process API. */
  private get commandsOnly(): boolean {
    return this.settings.template === "base";
  }

  private async runAsCommand(lease: Lease, request: NormalizedRequest, prepared: Extract<PreparedJavaScript, { ok: true }> | undefined) {
    await this.extendLife(lease, request.timeoutMs + (request.packages?.length ? INSTALL_TIMEOUT_MS : 0));
    return runCommand(lease.sandbox, request, prepared, INSTALL_TIMEOUT_MS);
  }

  private async run(lease: Lease, request: NormalizedRequest, cell: string, started: number): Promise<RunOutcome> {
    await this.extendLife(lease, request.timeoutMs + (request.packages?.length ? INSTALL_TIMEOUT_MS : 0));
    const context = await this.takeContext(lease.sandbox, request.language);
    return runInContext(lease.sandbox, context.id, request, cell, performance.now() - started, this.settings);
  }

  /** Makes sure the service will not end the sandbox before this execution can finish. */
  private async extendLife(lease: Lease, needMs: number): Promise<void> {
    if (lease.expiresAt - Date.now() >= needMs + LIFE_MARGIN_MS) return;
    const lifeMs = Math.max(this.settings.sandboxTimeoutMs, needMs + LIFE_MARGIN_MS);
    await lease.sandbox.setTimeout(lifeMs).catch((error: unknown) => Promise.reject(serviceError(error, "extend the sandbox's timeout", this.settings)));
    lease.expiresAt = Date.now() + lifeMs;
  }

  /** A context with the prelude: the sandbox's spare when it has one for this language, else a new one. */
  private async takeContext(sandbox: Sandbox, language: Language): Promise<Context> {
    const spare = this.spares.get(sandbox);
    this.spares.delete(sandbox);
    if (spare?.language === language) {
      const context = await spare.context;
      if (context) return context;
    } else if (spare) {
      void spare.context.then((unused) => unused && sandbox.removeCodeContext(unused.id).catch(() => {}));
    }
    return this.prepareContext(sandbox, language);
  }

  private async prepareContext(sandbox: Sandbox, language: Language): Promise<Context> {
    const { requestTimeoutMs } = this.settings;
    const context = await sandbox
      .createCodeContext({ language, requestTimeoutMs })
      .catch((error: unknown) => Promise.reject(serviceError(error, "create a code context", this.settings)));
    const prelude = await runCell(sandbox, preludeCell(language), { contextId: context.id, signal: AbortSignal.timeout(requestTimeoutMs) }).catch(
      (error: unknown) => Promise.reject(serviceError(error, "prepare a code context", this.settings)),
    );
    if (prelude.error) {
      throw new E2BServiceError(`the code interpreter could not prepare a ${language} context: ${prelude.error.name}: ${prelude.error.value}`, false);
    }
    return context;
  }

  private makeSpare(sandbox: Sandbox, language: Language): void {
    const context = this.prepareContext(sandbox, language).catch((error: Error) => {
      log.pool(`preparing a spare context in ${sandbox.sandboxId} failed: ${error.message}`);
      return undefined;
    });
    this.spares.set(sandbox, { language, context });
  }

  /**
   * A reusable sandbox goes back once its context is removed and the next one is under way; any
   * other is killed, after its context is removed when a limit ended the execution (the kernel
   * may still be running the code, and removal is what stops it).
   */
  private giveBack(pool: SandboxPool, lease: Lease, reusable: boolean, contextId: string | undefined, language: Language, limited: boolean): void {
    if (this.commandsOnly || language === "bash") return pool.release(lease, reusable);
    if (!reusable || !contextId) {
      if (!limited || !contextId) return pool.release(lease, false);
      return void lease.sandbox
        .removeCodeContext(contextId)
        .catch((error: Error) => log.kill(`removing context ${contextId} after a limit failed: ${error.message}`))
        .finally(() => pool.release(lease, false));
    }
    lease.sandbox.removeCodeContext(contextId).then(
      () => {
        this.makeSpare(lease.sandbox, language);
        pool.release(lease, true);
      },
      (error: Error) => {
        log.kill(`removing context ${contextId} failed, killing sandbox ${lease.sandbox.sandboxId}: ${error.message}`);
        pool.release(lease, false);
      },
    );
  }

  /** A sandbox from the pool; creation is retried once when the failure is one a retry can help. */
  private async acquire(pool: SandboxPool, exclusive: boolean, signal?: AbortSignal): Promise<Lease> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await pool.acquire(exclusive, signal);
      } catch (error) {
        if (error instanceof RuntimeClosedError) throw error;
        const failure = error instanceof E2BServiceError ? error : serviceError(error, "create a sandbox", this.settings);
        if (attempt >= 2 || !failure.retryable || signal?.aborted) throw failure;
        log.create(`retrying sandbox creation after: ${failure.message}`);
      }
    }
  }

  private async pool(network: boolean): Promise<SandboxPool> {
    let pool = this.pools.get(network);
    if (pool) return pool;
    const Sandbox = await this.sandboxClass();
    pool = this.pools.get(network);
    if (pool) return pool;
    const s = this.settings;
    pool = new SandboxPool({
      // Sandboxes with internet access are made only for requests that ask for it, never kept warm.
      size: network ? 0 : s.poolSize,
      idleMs: s.poolIdleMs,
      max: s.maxSandboxes,
      lifeMs: s.sandboxTimeoutMs,
      create: async (owner) => {
        const sandbox = await Sandbox.create(s.template, {
          timeoutMs: s.sandboxTimeoutMs,
          allowInternetAccess: network,
          metadata: { createdBy: "coderouter", coderouterPool: owner },
        }).catch((error: unknown) => Promise.reject(serviceError(error, "create a sandbox", s)));
        if (this.commandsOnly)
          void installWrappers(sandbox).catch((error: Error) => log.pool(`uploading the wrappers to ${sandbox.sandboxId} failed: ${error.message}`));
        else this.makeSpare(sandbox, s.languages.find((language) => language !== "bash") ?? "python");
        return sandbox;
      },
      tagged: async (owner) => {
        const ids: string[] = [];
        const pages = Sandbox.list({ query: { metadata: { coderouterPool: owner } } });
        while (pages.hasNext) ids.push(...(await pages.nextItems()).map((info) => info.sandboxId));
        return ids;
      },
      killById: (id) => Sandbox.kill(id),
    });
    this.pools.set(network, pool);
    pool.refill();
    return pool;
  }

  private sandboxClass(): Promise<SandboxClass> {
    this.sandboxes ??= loadSdk().then(
      () => sandboxClass(this.settings),
      (error: unknown) => {
        this.sandboxes = undefined;
        throw new RuntimeNotInstalledError("e2b", `the E2B SDK could not be loaded: ${(error as Error).message}`, {
          cause: error,
          fix: "npm install @e2b/code-interpreter",
        });
      },
    );
    return this.sandboxes;
  }
}
