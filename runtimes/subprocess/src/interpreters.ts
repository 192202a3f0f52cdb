import { existsSync, realpathSync } from "node:fs";
import { access, constants } from "node:fs/promises";
import { delimiter, isAbsolute, join } from "node:path";
import { execa } from "execa";
import { InfrastructureError } from "@coderouter/core";

export interface Interpreter {
  /** Absolute path of the real binary (not a version-manager shim). */
  path: string;
  version: string;
}

const PYTHON_PROBE = "import sys; print(sys.executable); print(sys.version.split()[0])";
const MODULES_PROBE = "import sys, pkgutil, json; print(json.dumps(sorted(set(sys.builtin_module_names) | {m.name for m in pkgutil.iter_modules()})))";

/**
 * Finds the interpreters once per runtime and caches them. `python3` on PATH is often a pyenv or
 * asdf shim that costs ~80 ms per start; asking it for sys.executable once gives the real binary,
 * which starts in ~10 ms.
 */
export class Interpreters {
  private python?: Promise<Interpreter>;
  private node?: Promise<Interpreter>;
  private bash?: Promise<Interpreter>;
  private readonly pythonModules = new Map<string, Promise<Set<string>>>();

  constructor(private readonly settings: { pythonBin?: string; nodeBin?: string; bashBin?: string }) {}

  resolvePython(): Promise<Interpreter> {
    const bin = this.settings.pythonBin;
    // An absolute PYTHON_BIN is taken as the real interpreter: no probe, no start-up cost for the CLI.
    this.python ??=
      bin && isAbsolute(bin)
        ? checkExecutable(bin).then(() => ({ path: bin, version: "from PYTHON_BIN" }))
        : probe(bin ?? "python3", ["-c", PYTHON_PROBE], "PYTHON_BIN").then((out) => {
            const [path = "", version = ""] = out.split("\n");
            return { path, version };
          });
    return this.python;
  }

  resolveNode(): Promise<Interpreter> {
    const bin = this.settings.nodeBin;
    this.node ??= bin
      ? probe(bin, ["-p", "process.execPath + '\\n' + process.versions.node"], "NODE_BIN").then((out) => {
          const [path = "", version = ""] = out.split("\n");
          return { path, version };
        })
      : Promise.resolve({ path: process.execPath, version: process.versions.node });
    return this.node;
  }

  /** The bash that runs scripts (BASH_BIN, /bin/bash by default), asked once for its version. */
  resolveBash(): Promise<Interpreter> {
    const bin = this.settings.bashBin ?? "/bin/bash";
    this.bash ??= probe(bin, ["-c", 'printf "%s" "$BASH_VERSION"'], "BASH_BIN").then((version) => ({ path: bin, version }));
    return this.bash;
  }

  /**
   * Every top-level module a Python can import, probed once per interpreter: the local one, or
   * `bin` (the sandbox's, which runs the code when isolation asks for the sandbox).
   */
  async pythonModuleNames(bin?: string): Promise<Set<string>> {
    const key = bin ?? "";
    let names = this.pythonModules.get(key);
    if (!names) {
      names = (bin ? Promise.resolve(bin) : this.resolvePython().then((python) => python.path))
        .then((path) => probe(path, ["-c", MODULES_PROBE], bin ? "SUBPROCESS_SANDBOX_PYTHON_BIN" : "PYTHON_BIN"))
        .then((out) => new Set(JSON.parse(out) as string[]));
      this.pythonModules.set(key, names);
    }
    return names;
  }
}

async function checkExecutable(path: string): Promise<void> {
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new InfrastructureError("subprocess", `PYTHON_BIN is set to ${path}, which is not an executable file`);
  }
}

async function probe(bin: string, args: string[], variable: string): Promise<string> {
  try {
    // cleanup: false keeps execa from installing process-wide signal handlers for a short probe.
    const { stdout } = await execa(bin, args, { timeout: 15_000, extendEnv: true, cleanup: false });
    return stdout.trim();
  } catch (error) {
    const e = error as { code?: string; shortMessage?: string };
    const why = e.code === "ENOENT" ? `"${bin}" was not found on PATH` : (e.shortMessage ?? String(error));
    throw new InfrastructureError("subprocess", `${why}; install it or set ${variable} to its path`, {
      cause: error,
    });
  }
}

/** The directories the sandbox mounts read-only from the host: an interpreter there runs inside it. */
const SANDBOX_SYSTEM_DIRS = ["/usr/", "/bin/", "/lib/", "/lib64/", "/sbin/"];

/**
 * The sandbox's default Python: the plain mode's own (PYTHON_BIN, or python3 on PATH) when it lives
 * where the sandbox can run it, so one program meets one Python whatever its isolation; otherwise
 * (a pyenv or asdf interpreter under a home directory the sandbox's uid cannot read) the system's.
 * Synchronous and spawn-free: settings are parsed before anything starts.
 */
export function defaultSandboxPython(pythonBin: string | undefined, path = process.env.PATH ?? ""): string {
  const bin = pythonBin ?? "python3";
  const candidates = isAbsolute(bin)
    ? [bin]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, bin));
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found) {
    const real = realpathSync(found);
    if (SANDBOX_SYSTEM_DIRS.some((dir) => real.startsWith(dir))) return real;
  }
  return "/usr/bin/python3";
}
