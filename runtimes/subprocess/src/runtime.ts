import { realpathSync } from "node:fs";
import { mkdtemp, readdir, rm, rmdir } from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import {
  asyncFunctionSource,
  InfrastructureError,
  isolationAtLeast,
  limitError,
  prepareJavaScript,
  checkInputDepth,
  pythonRunnerArgs,
  RuntimeClosedError,
  runnerFiles,
  runnersDir,
  runtimeResult,
  type Availability,
  type Capabilities,
  type Isolation,
  type Language,
  type NormalizedRequest,
  type PreparedJavaScript,
  type RuntimeResult,
  type RuntimeSession,
  type SessionOptions,
  type SessionRuntime,
} from "@coderouter/core";
import { ExecutionCgroups, type ExecutionCgroup } from "./cgroup.js";
import { isAlive, killChildren, runChild, type ChildSpec } from "./child.js";
import { outcomeResult } from "./ending.js";
import { interpreterEnv } from "./env.js";
import { ForkServer, modulesToWarm } from "./fork-server.js";
import { ForkServerPool } from "./fork-server-pool.js";
import { WorkerSession } from "./worker-session.js";
import { runScript } from "./bash-script.js";
import { unmount } from "./scratch.js";
import { unmountSession } from "./workspace-mount.js";
import { Interpreters } from "./interpreters.js";
import { PACKAGE_CACHE_DEFAULTS, PackageCache, type PackageCacheSettings, type PackageEnvironment } from "./package-cache.js";
import { Bubblewrap, SANDBOX_PACKAGES, SANDBOX_RUNNERS, type SandboxSettings } from "./sandbox.js";
import { nodeDataLimit, PidNamespace, withDataLimit, type Confinement } from "./pid-namespace.js";

export interface SubprocessSettings {
  pythonBin?: string;
  nodeBin?: string;
  /** "bwrap": every execution in the sandbox; "auto": only those that ask for sandbox isolation. */
  sandbox?: "auto" | "bwrap";
  sandboxSettings?: SandboxSettings;
  /** Warm Python fork-servers kept per mode (plain, sandboxed); 0 starts a cold process every time. */
  forkServers?: number;
  /** The bash that runs scripts, plain and sandboxed (a system path, which the sandbox mounts). */
  bashBin?: string;
  /** The environments of one-shot requests with `packages` (see PackageCache). */
  packageCache?: Omit<PackageCacheSettings, "npm">;
  /** How many fork-servers a mode may grow to under load (default: twice forkServers). */
  forkServersMax?: number;
}

const LANGUAGES: Language[] = ["python", "javascript", "typescript", "bash"];
/** A system path: the sandbox binds /bin and /usr read-only, so the same bash runs in both modes. */
const DEFAULT_BASH = "/bin/bash";

/**
 * Runs each snippet in a fresh local interpreter process (python3 or node) with a scrubbed
 * environment and a temporary working directory that is removed afterwards.
 */
export class SubprocessRuntime implements SessionRuntime {
  readonly id = "subprocess" as const;
  private readonly interpreters: Interpreters;
  private readonly bubblewrap?: Bubblewrap;
  private readonly pidNamespace: PidNamespace;
  private readonly cgroups = new ExecutionCgroups();
  /** Set by availability(): whether the sandbox was probed and works on this host. */
  private sandboxReady = false;
  private readonly pools: Record<"plain" | "sandbox", ForkServerPool>;
  private readonly sessions = new Set<RuntimeSession>();
  /** A fresh working directory made ahead of the next cold execution. */
  private spareWorkdir?: Promise<string>;
  private readonly housekeeping = new Set<Promise<void>>();
  /** Cold children running now: close() kills these, never another runtime's. */
  private readonly children = new Set<number>();
  private readonly packageCache: PackageCache;
  private closed = false;

  constructor(private readonly settings: SubprocessSettings) {
    sweepAbandonedWorkdirs();
    this.interpreters = new Interpreters(settings);
    if (settings.sandboxSettings) this.bubblewrap = new Bubblewrap(settings.sandboxSettings);
    this.pidNamespace = new PidNamespace(settings.sandboxSettings?.bwrapBin ?? "bwrap");
    this.packageCache = new PackageCache({
      maxBytes: PACKAGE_CACHE_DEFAULTS.maxMb * 1024 * 1024,
      installTimeoutMs: PACKAGE_CACHE_DEFAULTS.installTimeoutMs,
      ...settings.packageCache,
      npm: "npm",
    });
    const floor = settings.forkServers ?? 0;
    const ceiling = Math.max(floor, settings.forkServersMax ?? 2 * floor);
    this.pools = {
      plain: new ForkServerPool(() => this.startForkServer("plain"), floor, ceiling),
      sandbox: new ForkServerPool(() => this.startForkServer("sandbox"), floor, ceiling),
    };
  }

  capabilities(): Capabilities {
    return {
      languages: LANGUAGES,
      isolation: this.sandboxReady ? "sandbox" : "process",
      maxDurationMs: 6 * 3600_000,
      startupMs: 25,
      costPerSecondUsd: 0,
      network: true,
      packages: "local",
      oneShotPackages: { installs: true },
      sessions: true,
      location: "local",
    };
  }

  async availability(): Promise<Availability> {
    const found: string[] = [];
    const missing: string[] = [];
    for (const [name, resolve] of [
      ["python", () => this.interpreters.resolvePython()],
      ["node", () => this.interpreters.resolveNode()],
      ["bash", () => this.interpreters.resolveBash()],
    ] as const) {
      try {
        const interpreter = await resolve();
        found.push(`${name} ${interpreter.version} (${interpreter.path})`);
      } catch (error) {
        missing.push(`${name}: ${(error as Error).message}`);
      }
    }
    if (!found.length) {
      return { available: false, reason: missing.join("; "), fix: "install python3 or set PYTHON_BIN / NODE_BIN" };
    }
    const fixes: string[] = missing.map((line) => (line.startsWith("bash") ? "install bash or set BASH_BIN" : "install python3 or set PYTHON_BIN"));
    let sandbox = "sandbox: not configured";
    if (this.bubblewrap) {
      const probe = await this.bubblewrap.probe();
      this.sandboxReady = probe.ok;
      sandbox = probe.ok ? `sandbox: ${probe.reason}${await this.pythonsDiffer()}` : `no sandbox (${probe.reason})`;
      if (!probe.ok) fixes.push("install bubblewrap (apt-get install -y bubblewrap) for isolation: sandbox");
    }
    const tracking = (await this.cgroups.available())
      ? `cold children tracked by a cgroup each (${this.cgroups.folder})`
      : `cold children tracked by a PID namespace (no cgroup: ${this.cgroups.reason})`;
    return {
      available: true,
      reason: [found.join(", "), ...missing, sandbox, tracking].join("; "),
      ...(fixes.length ? { fix: fixes.join("; ") } : {}),
    };
  }

  /** Said by doctor when isolation would change the Python a program meets (README, "Differences between runtimes"). */
  private async pythonsDiffer(): Promise<string> {
    const plain = await this.interpreters.resolvePython().then(
      (p) => p.path,
      () => undefined,
    );
    const boxed = this.bubblewrap!.settings.pythonBin;
    const real = (path: string) => {
      try {
        return realpathSync(path);
      } catch {
        return path;
      }
    };
    if (!plain || real(plain) === real(boxed)) return "";
    return `, a different Python from plain mode's ${plain}: set PYTHON_BIN=${boxed} for one Python in both`;
  }

  async missingModules(language: Language, modules: string[], isolation: Isolation = "none"): Promise<string[]> {
    if (language === "python") {
      // Asked of the interpreter that would run the code: the sandbox's when the run is sandboxed.
      const sandboxed = this.bubblewrap && (this.settings.sandbox === "bwrap" || isolationAtLeast(isolation, "sandbox"));
      const installed = await this.interpreters.pythonModuleNames(sandboxed ? this.bubblewrap!.settings.pythonBin : undefined);
      return modules.filter((m) => !installed.has(m.split(".")[0]!));
    }
    const builtins = new Set(builtinModules);
    return modules.filter((m) => !builtins.has(m.replace(/^node:/, "")));
  }

  /**
   * A request with `packages` runs in a cold child (never a fork-server, whose Python has started
   * without the environment on its path and whose sandbox cannot take a new mount) with its cached
   * environment bound read-only; the installation, when the cache lacks it, streams to onStderr.
   */
  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    if (this.closed) throw new RuntimeClosedError(this.id);
    checkInputDepth(request.inputs);
    if (!request.packages?.length) return this.run(request);
    const started = performance.now();
    const sandbox = await this.sandboxFor(request.isolation);
    const interpreter = await this.interpreterFor(request.language, sandbox);
    let environment: PackageEnvironment;
    try {
      environment = await this.packageCache.acquire(request.language, request.packages, interpreter, Boolean(sandbox), {
        signal: request.signal,
        onStdout: request.onStderr,
        onStderr: request.onStderr,
      });
    } catch (error) {
      if ((error as Error).name === "AbortError") return runtimeResult(this.id, request, started, { error: limitError("killed", request) });
      throw error;
    }
    try {
      return await this.run(request, started, environment.dir);
    } finally {
      environment.release();
    }
  }

  /** Runs one request, `packages` (a cached environment on the host) on its import path when given. */
  private async run(request: NormalizedRequest, started = performance.now(), packages?: string): Promise<RuntimeResult> {
    // Again: close() may have come while the packages were installing.
    if (this.closed) throw new RuntimeClosedError(this.id);
    const sandbox = await this.sandboxFor(request.isolation);
    const confine = await this.plainConfinement(sandbox);
    if (request.language === "bash") return this.executeBash(request, started, sandbox, confine);
    // A cold plain child is tracked by a cgroup where the host can make one (see ExecutionCgroups); one
    // with packages stays in its PID namespace, which binds the environment read-only even for root.
    const tracked = !sandbox && !packages && (await this.cgroups.available());
    const runners = sandbox ? SANDBOX_RUNNERS : runnersDir;
    // Where the child finds the environment: bound at a fixed path in a sandbox, read-only in place otherwise.
    const packagesDir = packages && (sandbox ? SANDBOX_PACKAGES : packages);
    const env = { ...request.env, ...(packagesDir && request.language !== "python" ? { NODE_PATH: join(packagesDir, "node_modules") } : {}) };
    let payload: object;
    let interpreterArgs: string[];
    let interpreter: string;
    let prepared: PreparedJavaScript | undefined;
    if (request.language === "python") {
      interpreter = await this.interpreterFor(request.language, sandbox);
      interpreterArgs = pythonRunnerArgs(runners, "coderouter_runner", packagesDir);
      payload = { code: request.code, inputs: request.inputs, memoryMb: request.memoryMb ?? null, timeoutMs: request.timeoutMs };
    } else {
      prepared = prepareJavaScript(request.code, request.language);
      if (!prepared.ok) return runtimeResult(this.id, request, started, { error: prepared.error });
      interpreter = await this.interpreterFor(request.language, sandbox);
      interpreterArgs = [...(request.memoryMb ? [`--max-old-space-size=${request.memoryMb}`] : []), join(runners, basename(runnerFiles.node))];
      const { source, lineOffset } = asyncFunctionSource(prepared.body);
      payload = { source, lineOffset, filename: prepared.filename, inputs: request.inputs, timeoutMs: request.timeoutMs };
    }

    const mode = sandbox ? "sandbox" : "plain";
    if (request.language === "python" && !(sandbox && request.network) && !packages) {
      const server = await this.pools[mode].acquire();
      if (server) {
        const leased = performance.now();
        try {
          const outcome = await server.run(payload, interpreterEnv(sandbox ? undefined : interpreter, request.env), request, modulesToWarm(request.code));
          return outcomeResult(request, started, outcome, prepared);
        } finally {
          this.pools[mode].release(server, performance.now() - leased);
        }
      }
    }

    const dataBytes = request.language === "python" ? undefined : nodeDataLimit(request.memoryMb);
    // A sandbox has its own private /work; only a plain child needs a directory on the host.
    const workdir = sandbox ? tmpdir() : await this.takeWorkdir();
    let cgroup: ExecutionCgroup | undefined;
    let release: (() => void) | undefined;
    try {
      let spec: ChildSpec;
      if (sandbox) {
        const network = Boolean(request.network && sandbox.settings.allowNetwork);
        const command = await sandbox.oneShot(interpreter, interpreterArgs, env, network, dataBytes, packages ? { [packages]: SANDBOX_PACKAGES } : {});
        release = command.release;
        spec = { ...command, cwd: workdir, env: {}, payload: JSON.stringify(payload) };
      } else {
        const limited = withDataLimit(interpreter, interpreterArgs, dataBytes);
        const command = tracked ? limited : confine(limited, packages ? [packages] : []);
        cgroup = tracked ? this.cgroups.take() : undefined;
        spec = { ...command, cwd: workdir, env: childEnv(interpreter, workdir, env), payload: JSON.stringify(payload), cgroup };
      }
      const outcome = await runChild(spec, request, this.children);
      if (request.language === "python") this.pools[mode].observeCold(performance.now() - started);
      return outcomeResult(request, started, outcome, prepared);
    } finally {
      // Removed off the critical path; close() waits for every removal still under way.
      if (!sandbox) this.track(removeWorkdir(workdir));
      if (cgroup) this.track(cgroup.release());
      release?.();
    }
  }

  /** A bash script in a fresh working directory (plain) or the sandbox's private /work. */
  private async executeBash(request: NormalizedRequest, started: number, sandbox: Bubblewrap | undefined, confine: Confinement): Promise<RuntimeResult> {
    const workdir = sandbox ? tmpdir() : await this.takeWorkdir();
    try {
      return await runScript(request, started, { bash: this.bash, ...(sandbox ? { sandbox } : {}), workdir, confine, children: this.children });
    } finally {
      if (!sandbox) this.track(removeWorkdir(workdir));
    }
  }

  private get bash(): string {
    return this.settings.bashBin ?? DEFAULT_BASH;
  }

  /** Starts a fork-server of this mode: the sandbox's Python in bubblewrap, or the plain Python in a PID namespace. */
  private async startForkServer(mode: "plain" | "sandbox"): Promise<ForkServer> {
    const sandbox = mode === "sandbox" ? this.bubblewrap : undefined;
    // The sandbox pool is only reached through sandboxFor(), which found bubblewrap; never start a plain server in it.
    if (mode === "sandbox" && !sandbox) throw new InfrastructureError(this.id, "the sandbox is not configured for this runtime");
    const interpreter = await this.interpreterFor("python", sandbox);
    if (sandbox) {
      const command = await sandbox.oneShot(interpreter, pythonRunnerArgs(SANDBOX_RUNNERS, "coderouter_forkserver"), {}, false);
      // Its scratch mount serves every execution it forks, emptied after each; it goes with the server.
      const server = await ForkServer.start({ ...command, env: {}, cwd: tmpdir() }).catch((error: unknown) => {
        command.release();
        throw error;
      });
      void server.ended.then(command.release);
      return server;
    }
    const confine = await this.plainConfinement(undefined);
    return ForkServer.start({
      ...confine({ file: interpreter, args: pythonRunnerArgs(runnersDir, "coderouter_forkserver") }),
      env: childEnv(interpreter, tmpdir()),
      cwd: tmpdir(),
    });
  }

  poolSizes(): Record<string, number> {
    const plain = this.pools.plain.sizes();
    const sandbox = this.pools.sandbox.sizes();
    return {
      fork_servers: plain.total,
      fork_servers_idle: plain.idle,
      fork_servers_waiting: plain.waiting,
      sandboxed_fork_servers: sandbox.total,
      sandboxed_fork_servers_idle: sandbox.idle,
      sandboxed_fork_servers_waiting: sandbox.waiting,
      fork_servers_floor: this.pools.plain.floor,
      fork_servers_ceiling: this.pools.plain.ceiling,
      session_workers: [...this.sessions].filter((s) => s.alive).length,
    };
  }

  /**
   * Sessions: a workspace with a long-lived python or node worker per language, started on the
   * language's first call, each sandboxed when the session asks for it.
   */
  async openSession(options: SessionOptions): Promise<RuntimeSession> {
    if (this.closed) throw new RuntimeClosedError(this.id);
    const sandbox = await this.sandboxFor(options.isolation);
    const interpreters = { python: () => this.interpreterFor("python", sandbox), node: () => this.interpreterFor("javascript", sandbox) };
    const session = await WorkerSession.open({
      ...options,
      interpreters,
      sandbox,
      confine: await this.plainConfinement(sandbox),
      bash: this.bash,
      children: this.children,
    });
    for (const known of this.sessions) if (!known.alive) this.sessions.delete(known);
    this.sessions.add(session);
    return session;
  }

  /** The interpreter that runs a language: the sandbox's own when sandboxed. */
  private async interpreterFor(language: Language, sandbox: Bubblewrap | undefined): Promise<string> {
    const python = language === "python";
    if (sandbox) return python ? sandbox.settings.pythonBin : sandbox.settings.nodeBin;
    return (await (python ? this.interpreters.resolvePython() : this.interpreters.resolveNode())).path;
  }

  /**
   * How a plain child is kept from outliving its execution: as pid 1 of a PID namespace where
   * bubblewrap can make one (see PidNamespace), as it is otherwise. A sandbox has its own.
   */
  private async plainConfinement(sandbox: Bubblewrap | undefined): Promise<Confinement> {
    if (sandbox || !(await this.pidNamespace.available())) return (command) => command;
    return (command, readOnly) => this.pidNamespace.wrap(command.file, command.args, readOnly);
  }

  /**
   * The sandbox a run needs, if any (asked for by its isolation, or by configuration), known to
   * work here; an InfrastructureError saying why not otherwise.
   */
  private async sandboxFor(isolation: Isolation): Promise<Bubblewrap | undefined> {
    if (this.settings.sandbox !== "bwrap" && !isolationAtLeast(isolation, "sandbox")) return undefined;
    if (!this.bubblewrap) throw new InfrastructureError(this.id, "the sandbox is not configured for this runtime");
    const probe = await this.bubblewrap.probe();
    if (!probe.ok) throw new InfrastructureError(this.id, `isolation "sandbox" needs bubblewrap: ${probe.reason}`);
    return this.bubblewrap;
  }

  /** A fresh, empty working directory, the next one already being made for the execution after. */
  private takeWorkdir(): Promise<string> {
    const make = () => mkdtemp(join(tmpdir(), `${WORKDIR_PREFIX}${process.pid}-`));
    const workdir = this.spareWorkdir ?? make();
    this.spareWorkdir = this.closed ? undefined : make();
    this.spareWorkdir?.catch(() => (this.spareWorkdir = undefined));
    return workdir;
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch(() => {}).finally(() => this.housekeeping.delete(tracked));
    this.housekeeping.add(tracked);
  }

  async close(): Promise<void> {
    this.closed = true;
    const spare = this.spareWorkdir;
    this.spareWorkdir = undefined;
    if (spare) this.track(spare.then(removeWorkdir));
    const servers = Promise.all([this.pools.plain.close(), this.pools.sandbox.close()]);
    await Promise.all([...this.sessions].map((session) => session.close()));
    // Each sandboxed server's scratch mount is released when it has exited, before the mounts close.
    await servers;
    await this.packageCache.close();
    killChildren(this.children);
    await this.cgroups.close();
    await this.bubblewrap?.close();
    await Promise.all(this.housekeeping);
  }
}

/** Every working directory on the host is named after the process that made it. */
export const WORKDIR_PREFIX = "coderouter-";
let swept = false;

/**
 * Removes working directories left by coderouter processes that no longer exist (a host killed
 * before it could clean up), once per process, in the background.
 */
function sweepAbandonedWorkdirs(): void {
  if (swept) return;
  swept = true;
  void readdir(tmpdir())
    .then(async (names) => {
      for (const name of names) {
        const owner = Number(/^coderouter-(?:session-|sandbox-)?(\d+)-/.exec(name)?.[1]);
        if (!owner || owner === process.pid || isAlive(owner)) continue;
        // A sandboxed session's places are tmpfs mounted in it; a sandbox's scratch, one mounted on it.
        if (name.startsWith(`${WORKDIR_PREFIX}session-`)) await unmountSession(join(tmpdir(), name));
        if (name.startsWith(`${WORKDIR_PREFIX}sandbox-`)) await unmount(join(tmpdir(), name));
        await rm(join(tmpdir(), name), { recursive: true, force: true });
      }
    })
    .catch(() => {});
}

/** Most snippets write no files: a plain rmdir is several times cheaper than a recursive rm. */
async function removeWorkdir(workdir: string): Promise<void> {
  try {
    await rmdir(workdir);
  } catch {
    await rm(workdir, { recursive: true, force: true });
  }
}

function childEnv(interpreter: string, workdir: string, extra: Record<string, string> = {}): Record<string, string> {
  return interpreterEnv(interpreter, { HOME: workdir, TMPDIR: workdir, ...extra });
}
