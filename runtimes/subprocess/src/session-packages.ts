import { readdir, readFile } from "node:fs/promises";
import { join, posix, relative } from "node:path";
import type { InstallOptions, InstallOutcome, JsonValue, Language, SessionFiles } from "@coderouter/core";
import { NODE_PACKAGES_DIR, PYTHON_PACKAGES_DIR, stageInstall, type InstallerSettings } from "./installer.js";

/**
 * The packages of one session: installed on the host into a staging directory (no package code
 * runs there), then copied into the session's working directory through its files channel, the one
 * path that reaches a sandbox's private /work too. Python finds them once their directory is on
 * the worker's sys.path; Node finds node_modules beside the session's require.
 */
export class SessionPackages {
  private readonly installed: Record<string, string> = {};

  constructor(
    private readonly language: Language,
    private readonly settings: InstallerSettings,
    private readonly files: SessionFiles,
    /** Puts the given directory (absolute, as the worker sees it) first on the worker's import path. */
    private readonly addImportPath: (dir: string) => Promise<void>,
    /** The session's working directory as the worker sees it. */
    private readonly workdir: string,
  ) {}

  async install(specs: string[], options: InstallOptions): Promise<InstallOutcome> {
    const staged = await stageInstall(this.language, specs, this.settings, options);
    try {
      const target = this.language === "python" ? PYTHON_PACKAGES_DIR : NODE_PACKAGES_DIR;
      await this.copy(staged.root, staged.root, target);
      if (this.language === "python") await this.addImportPath(posix.join(this.workdir, PYTHON_PACKAGES_DIR));
      Object.assign(this.installed, staged.installed);
      return { requested: specs, installed: staged.installed, stdout: staged.stdout, stderr: staged.stderr };
    } finally {
      await staged.remove();
    }
  }

  /** The worker's own description, with what npm installed (Node reports no packages of its own). */
  describe(environment: Record<string, JsonValue>): Record<string, JsonValue> {
    if (this.language === "python") return environment;
    const listed = Array.isArray(environment.packages) ? environment.packages : [];
    return { ...environment, packages: [...listed, ...Object.entries(this.installed).map(([name, version]) => `${name}@${version}`)] };
  }

  /** Regular files only: a symlink in a package (npm's .bin) could point anywhere on the host. */
  private async copy(root: string, dir: string, target: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      // pip's console scripts and byte code are of no use to the session and would only cost copies.
      if (entry.name === "__pycache__" || (dir === root && this.language === "python" && entry.name === "bin")) continue;
      if (entry.isDirectory()) await this.copy(root, path, target);
      else if (entry.isFile()) await this.files.write(posix.join(target, relative(root, path).split("\\").join("/")), await readFile(path));
    }
  }
}
