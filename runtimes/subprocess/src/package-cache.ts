import { createHash } from "node:crypto";
import { realpathSync, statSync } from "node:fs";
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { checkPackageSpecs, createDebug, InfrastructureError, PackageInstallError, type InstallOptions, type Language } from "@coderouter/core";
import { installerEnv, stageInstall } from "./installer.js";

const log = createDebug("coderouter:subprocess");

export interface PackageCacheSettings {
  /** Where environments are kept; default: defaultPackageCacheDir(). */
  dir?: string;
  /** Past this total size, the environments used longest ago are removed. */
  maxBytes: number;
  /** An installation that runs longer is stopped (and its environment never appears). */
  installTimeoutMs: number;
  npm: string;
}

/** A cached environment leased to one execution: not evicted until released. */
export interface PackageEnvironment {
  /** On the host: pip's --target directory for Python, the prefix holding node_modules for JavaScript. */
  dir: string;
  /** Name → version of everything installed in it. */
  installed: Record<string, string>;
  /** Whether it was installed for this request, or for one it waited for (false: the cache had it). */
  built: boolean;
  release(): void;
}

interface Manifest {
  key: string;
  language: "python" | "javascript";
  specs: string[];
  interpreter: string;
  installed: Record<string, string>;
  bytes: number;
}

/** 2 GiB of environments (a few data-science sets); an installation may take 5 minutes (a large wheel on a slow link). */
export const PACKAGE_CACHE_DEFAULTS = { maxMb: 2048, installTimeoutMs: 300_000 };

/** Written last into a finished environment; an environment without it is not one. */
const MANIFEST = ".coderouter-environment.json";
/**
 * Another coderouter process may have just leased an environment this one sees as least recently
 * used; one used this recently is never evicted (a running execution keeps its lease in-process).
 */
const EVICTION_GRACE_MS = 60_000;

/**
 * The environments of one-shot requests with `packages`, one per (language, normalised package set,
 * interpreter, index settings), so the second request with a set installs nothing. Each is built
 * by the session installer (registry names only, specs after `--`, wheels only, no npm scripts)
 * into a staging directory beside the environments, sealed read-only, and renamed into place: a
 * crash leaves only a staging directory (swept later), never a half-written environment, and of
 * two processes building one set the first rename wins. In one process, concurrent requests for a
 * set share one installation. Past the size cap the environments used longest ago are removed.
 */
export class PackageCache {
  private readonly building = new Map<string, { done: Promise<Manifest>; listeners: Set<InstallOptions> }>();
  private readonly leases = new Map<string, number>();
  private prepared?: Promise<{ root: string; sandboxReachable: boolean }>;
  /** Ends every installation under way when the runtime closes: nothing it started outlives it. */
  private readonly closing = new AbortController();

  constructor(private readonly settings: PackageCacheSettings) {}

  /**
   * The environment for these packages, installed on first use with `interpreter`'s pip (or npm).
   * `sandboxed`: the sandbox's own uid must reach it. Rejects with PackageInstallError naming the
   * packages, or with an AbortError when `options.signal` ends the wait (the installation goes on).
   */
  async acquire(language: Language, specs: string[], interpreter: string, sandboxed: boolean, options: InstallOptions = {}): Promise<PackageEnvironment> {
    const kind = language === "python" ? "python" : "javascript";
    checkPackageSpecs(kind, specs);
    const normalised = normaliseSpecs(kind, specs);
    const identity = realpathOr(interpreter);
    const key = environmentKey(kind, normalised, identity);
    const { root, sandboxReachable } = await this.prepare();
    if (sandboxed && !sandboxReachable) {
      throw new InfrastructureError(
        "subprocess",
        `the package cache ${root} is not reachable by the sandbox's uid (a directory above it is not searchable by other users): set SUBPROCESS_PACKAGE_CACHE to a directory others can traverse, e.g. /var/cache/coderouter`,
      );
    }
    const dir = join(root, "envs", key);
    this.leases.set(key, (this.leases.get(key) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.leases.get(key) ?? 1) - 1;
      if (left) this.leases.set(key, left);
      else this.leases.delete(key);
    };
    try {
      let manifest = await readManifest(dir, key);
      // Touched as used; one that another process evicted a moment ago is built again.
      const now = new Date();
      if (
        manifest &&
        !(await utimes(dir, now, now).then(
          () => true,
          () => false,
        ))
      )
        manifest = undefined;
      const built = !manifest;
      if (!manifest) {
        manifest = await this.build(root, key, { key, language: kind, specs: normalised, interpreter: identity, installed: {}, bytes: 0 }, options);
      }
      return { dir, installed: manifest.installed, built, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** One installation per set at a time in this process; every request waiting for it hears its output. */
  private async build(root: string, key: string, plan: Manifest, options: InstallOptions): Promise<Manifest> {
    let build = this.building.get(key);
    if (!build) {
      const listeners = new Set<InstallOptions>();
      const done = this.install(root, plan, listeners).finally(() => this.building.delete(key));
      // Every waiter may have stopped waiting (cancelled): the failure is then nobody's to handle.
      done.catch(() => {});
      build = { done, listeners };
      this.building.set(key, build);
    }
    build.listeners.add(options);
    try {
      return await untilAborted(build.done, options.signal);
    } finally {
      build.listeners.delete(options);
    }
  }

  private async install(root: string, plan: Manifest, listeners: Set<InstallOptions>): Promise<Manifest> {
    const target = join(root, "envs", plan.key);
    // A build of this set may have finished between the caller's look and this one.
    const finished = await readManifest(target, plan.key);
    if (finished) return finished;
    if (this.closing.signal.aborted) throw new PackageInstallError(plan.specs, "the runtime was closed");
    log(`installing ${plan.specs.join(" ")} into the package cache (${plan.key.slice(0, 12)})`);
    const staged = await stageInstall(
      plan.language,
      plan.specs,
      { python: plan.interpreter, npm: this.settings.npm, stagingParent: join(root, "staging") },
      {
        timeoutMs: this.settings.installTimeoutMs,
        signal: this.closing.signal,
        onStdout: (chunk) => listeners.forEach((l) => l.onStdout?.(chunk)),
        onStderr: (chunk) => listeners.forEach((l) => l.onStderr?.(chunk)),
      },
    );
    const staging = plan.language === "python" ? staged.root : dirname(staged.root);
    try {
      const manifest: Manifest = { ...plan, installed: staged.installed, bytes: await seal(staging, true) };
      await writeFile(join(staging, MANIFEST), JSON.stringify(manifest), { mode: 0o444 });
      await chmod(staging, 0o555);
      try {
        await rename(staging, target);
      } catch (error) {
        // Another process renamed the same set into place first: its environment is as good as ours.
        const theirs = await readManifest(target, plan.key);
        if (theirs) return theirs;
        // Not an environment (no manifest: made by hand, or damaged): set aside, then ours goes in.
        const aside = join(root, "staging", `damaged-${plan.key}-${process.pid}`);
        if (
          !(await rename(target, aside).then(
            () => true,
            () => false,
          ))
        )
          throw error;
        await removeTree(aside);
        await rename(staging, target);
      }
      const now = new Date();
      await utimes(target, now, now);
      await this.evict(root, plan.key);
      return manifest;
    } finally {
      await removeTree(staging);
    }
  }

  /** Stops the installations under way (their staging folders are removed) and waits for them to end. */
  async close(): Promise<void> {
    this.closing.abort();
    await Promise.allSettled([...this.building.values()].map((build) => build.done));
  }

  /** Removes the environments used longest ago until the rest fit in the cap (never one leased or just used). */
  private async evict(root: string, keep: string): Promise<void> {
    const envs = join(root, "envs");
    const found = await Promise.all(
      (await readdir(envs)).map(async (key) => {
        const [info, manifest] = await Promise.all([stat(join(envs, key)).catch(() => undefined), readManifest(join(envs, key), key)]);
        return { key, used: info?.mtimeMs ?? 0, bytes: manifest?.bytes ?? 0 };
      }),
    );
    let total = found.reduce((sum, e) => sum + e.bytes, 0);
    for (const env of found.sort((a, b) => a.used - b.used)) {
      if (total <= this.settings.maxBytes) break;
      if (env.key === keep || this.leases.has(env.key) || Date.now() - env.used < EVICTION_GRACE_MS) continue;
      // Renamed out first, so no other process ever finds it half-removed.
      const doomed = join(root, "staging", `evicted-${env.key}-${process.pid}`);
      if (
        await rename(join(envs, env.key), doomed).then(
          () => true,
          () => false,
        )
      ) {
        await removeTree(doomed);
        total -= env.bytes;
        log(`evicted package environment ${env.key.slice(0, 12)} (${env.bytes} bytes, least recently used)`);
      }
    }
  }

  /** The cache's folders, owned by this user and writable by nobody else; leftovers of crashed installs removed. */
  private prepare(): Promise<{ root: string; sandboxReachable: boolean }> {
    this.prepared ??= (async () => {
      const root = this.settings.dir ?? defaultPackageCacheDir();
      try {
        await mkdir(root, { recursive: true, mode: 0o711 });
        await checkPrivate(root);
        await mkdir(join(root, "envs"), { mode: 0o711 }).catch(existed);
        await mkdir(join(root, "staging"), { mode: 0o700 }).catch(existed);
      } catch (error) {
        if (error instanceof InfrastructureError) throw error;
        throw new InfrastructureError("subprocess", `the package cache ${root} cannot be used (${(error as Error).message}): set SUBPROCESS_PACKAGE_CACHE`, {
          cause: error,
        });
      }
      await this.sweep(join(root, "staging"));
      return { root, sandboxReachable: searchableByOthers(join(root, "envs")) };
    })();
    this.prepared.catch(() => (this.prepared = undefined));
    return this.prepared;
  }

  /** A staging directory older than any installation may run was left by a crash. */
  private async sweep(staging: string): Promise<void> {
    for (const name of await readdir(staging).catch(() => [] as string[])) {
      const info = await lstat(join(staging, name)).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > this.settings.installTimeoutMs + EVICTION_GRACE_MS) await removeTree(join(staging, name));
    }
  }
}

/**
 * pip's and npm's spellings of one set, made one: Python names as PEP 503 normalises them (case,
 * `-`/`_`/`.`), extras and constraints sorted, spaces dropped; npm ranges with single spaces; the
 * set sorted and without repeats. So `["B", "a==1"]` and `["A == 1", "b"]` share an environment.
 */
export function normaliseSpecs(language: "python" | "javascript", specs: string[]): string[] {
  const pep503 = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");
  const one = (spec: string): string => {
    if (language === "javascript") return spec.trim().replace(/\s+/g, " ");
    const [, name = "", extras, rest = ""] = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[([^\]]*)\])?(.*)$/.exec(spec.trim()) ?? [];
    const sortedExtras = [...new Set((extras ?? "").split(",").filter(Boolean).map(pep503))].sort();
    const constraints = rest.replace(/\s+/g, "").split(",").filter(Boolean).sort();
    return `${pep503(name)}${sortedExtras.length ? `[${sortedExtras.join(",")}]` : ""}${constraints.join(",")}`;
  };
  return [...new Set(specs.map(one))].sort();
}

/**
 * The environment's name: everything that changes what would be installed, hashed. The index
 * settings are the installer's PIP_* and npm_config_* variables, bar those naming its own cache.
 */
export function environmentKey(language: "python" | "javascript", specs: string[], interpreter: string): string {
  const index = Object.entries(installerEnv())
    .filter(([name]) => /^(PIP_|npm_config_)/i.test(name) && !/cache/i.test(name))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash("sha256")
    .update(JSON.stringify({ format: 1, language, specs, interpreter, index }))
    .digest("hex");
}

/**
 * The user's cache directory ($XDG_CACHE_HOME or ~/.cache)/coderouter/packages, when other users
 * can traverse to it: the sandbox runs as a uid of its own, and bubblewrap binds an environment by
 * its path as that uid. Otherwise (a home directory of mode 0700, as root's) a folder of this
 * user's in the temporary directory, checked to be its own before use.
 */
export function defaultPackageCacheDir(env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  const preferred = join(base, "coderouter", "packages");
  return searchableByOthers(preferred) ? preferred : join(tmpdir(), `coderouter-packages-${process.getuid?.() ?? "user"}`);
}

/** Whether a uid that is neither owner nor group can reach `path`: every existing directory above it has o+x. */
function searchableByOthers(path: string): boolean {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    try {
      // Synchronous, and once per cache: one stat per level of one path.
      if (!(statSync(dir).mode & 0o001)) return false;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") return false;
    }
    if (dir === dirname(dir)) return true;
  }
}

/** A folder others could write to would let them plant an environment that every execution imports. */
async function checkPrivate(root: string): Promise<void> {
  const info = await lstat(root);
  if (!info.isDirectory() || info.uid !== process.getuid?.() || info.mode & 0o022) {
    throw new InfrastructureError(
      "subprocess",
      `the package cache ${root} is not a directory of this user's that only it can write (owner uid ${info.uid}, mode ${(info.mode & 0o777).toString(8)}): fix its owner and mode or set SUBPROCESS_PACKAGE_CACHE`,
    );
  }
}

function existed(error: NodeJS.ErrnoException): void {
  if (error.code !== "EEXIST") throw error;
}

/** The environment's manifest, when it is a finished environment for this key. */
async function readManifest(dir: string, key: string): Promise<Manifest | undefined> {
  try {
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST), "utf8")) as Manifest;
    return manifest.key === key ? manifest : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes what the installer wrote read-only (so no execution, even one running as this user, changes
 * it by accident, and a sandbox's bind is read-only twice over) and readable by the sandbox's uid;
 * symlinks go (npm's .bin: a link could lead out of the environment). Returns the bytes it holds.
 */
async function seal(dir: string, top = false): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) bytes += await seal(path);
    else if (entry.isFile()) {
      const info = await stat(path);
      bytes += info.size;
      await chmod(path, info.mode & 0o111 ? 0o555 : 0o444);
    } else await rm(path, { force: true });
  }
  // The top stays writable until its manifest is written.
  if (!top) await chmod(dir, 0o555);
  return bytes;
}

/**
 * rm -r that also works as a user who is not root on a sealed (read-only) tree. A folder it cannot
 * remove is left for the next sweep, and logged: it must not hide the error that led here.
 */
async function removeTree(dir: string): Promise<void> {
  const unseal = async (path: string): Promise<void> => {
    await chmod(path, 0o700);
    for (const entry of await readdir(path, { withFileTypes: true })) if (entry.isDirectory()) await unseal(join(path, entry.name));
  };
  await unseal(dir).catch(() => {});
  await rm(dir, { recursive: true, force: true }).catch((error: Error) => log(`could not remove ${dir}: ${error.message}`));
}

/** The promise, or an AbortError once the signal ends the wait. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DOMException("the wait for the package installation was cancelled", "AbortError"));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
