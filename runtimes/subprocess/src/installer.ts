import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkPackageSpecs, PackageInstallError, type InstallOptions, type Language } from "@coderouter/core";

/** Host variables an installer may read: where the index is and how to reach it, never the rest of the host's. */
const INSTALLER_ENV =
  /^(PATH|HOME|LANG|LC_ALL|PIP_.+|npm_config_.+|NPM_CONFIG_.+|HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|NODE_EXTRA_CA_CERTS)$/;

/** Where a session keeps what it installed, relative to its working directory. */
export const PYTHON_PACKAGES_DIR = ".coderouter/python";
export const NODE_PACKAGES_DIR = "node_modules";

const OUTPUT_CAP = 256 * 1024;

export interface InstallerSettings {
  /** The interpreter whose pip installs Python packages (the session's own version and ABI). */
  python: string;
  npm: string;
  /**
   * Where the staging directory is made (default: the system's temporary directory). The package
   * cache stages beside its environments, so that a finished one is renamed into place atomically.
   */
  stagingParent?: string;
}

export interface StagedInstall {
  /** The directory to copy into the session: site-packages for Python, node_modules for npm. */
  root: string;
  installed: Record<string, string>;
  stdout: string;
  stderr: string;
  remove(): Promise<void>;
}

/**
 * Installs packages on the host into a fresh staging directory, never running package code:
 * pip takes wheels only (`--only-binary=:all:`, no setup.py), npm skips every lifecycle script
 * (`--ignore-scripts`). The specs follow `--`, so none can be read as an option.
 */
export async function stageInstall(language: Language, specs: string[], settings: InstallerSettings, options: InstallOptions): Promise<StagedInstall> {
  checkPackageSpecs(language, specs);
  const staging = await mkdtemp(join(settings.stagingParent ?? tmpdir(), "coderouter-install-"));
  const remove = () => rm(staging, { recursive: true, force: true });
  try {
    const python = language === "python";
    const [file, args, root] = python
      ? [
          settings.python,
          [
            "-m",
            "pip",
            "install",
            "--target",
            staging,
            "--only-binary=:all:",
            "--no-input",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            "--",
            ...specs,
          ],
          staging,
        ]
      : [
          settings.npm,
          [
            "install",
            "--prefix",
            staging,
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--no-package-lock",
            "--no-update-notifier",
            "--",
            ...specs,
          ],
          join(staging, "node_modules"),
        ];
    const output = await runInstaller(file, args, staging, specs, options);
    const installed = python ? await pythonVersions(staging) : await nodeVersions(root);
    return { root, installed, ...output, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** The host's variables an installer is given (see INSTALLER_ENV). */
export function installerEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([name, value]) => INSTALLER_ENV.test(name) && value !== undefined)) as Record<string, string>;
}

function runInstaller(file: string, args: string[], cwd: string, specs: string[], options: InstallOptions): Promise<{ stdout: string; stderr: string }> {
  const env = installerEnv();
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout or an abort ends the installer and whatever it started.
    const child = spawn(file, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const streams = { stdout: "", stderr: "" };
    const collect = (name: "stdout" | "stderr", forward?: (chunk: string) => void) => (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      if (streams[name].length < OUTPUT_CAP) streams[name] += text.slice(0, OUTPUT_CAP - streams[name].length);
      forward?.(text);
    };
    child.stdout.on("data", collect("stdout", options.onStdout));
    child.stderr.on("data", collect("stderr", options.onStderr));
    let stopped: string | undefined;
    const stop = (why: string) => {
      stopped ??= why;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    };
    const timer = options.timeoutMs ? setTimeout(() => stop(`the installer ran longer than ${options.timeoutMs} ms`), options.timeoutMs) : undefined;
    const onAbort = () => stop("the installation was cancelled");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    const finish = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    };
    child.once("error", (error) => {
      finish();
      reject(
        new PackageInstallError(
          specs,
          `${file} could not be started (${(error as NodeJS.ErrnoException).code ?? error.message}): install it or set its path`,
          streams,
          { cause: error },
        ),
      );
    });
    child.once("close", (code) => {
      finish();
      if (stopped) return reject(new PackageInstallError(specs, stopped, streams));
      if (code !== 0) {
        const last = (
          streams.stderr
            .trim()
            .split("\n")
            .filter((l) => /error/i.test(l))
            .pop() ??
          streams.stderr.trim().split("\n").pop() ??
          ""
        ).trim();
        return reject(
          new PackageInstallError(
            specs,
            `${file === "npm" || file.endsWith("/npm") ? "npm" : "pip"} exited with code ${code}${last ? `: ${last}` : ""}`,
            streams,
          ),
        );
      }
      resolve(streams);
    });
  });
}

/** Name → version of every distribution pip put in the staging directory (its .dist-info METADATA). */
async function pythonVersions(staging: string): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  for (const entry of await readdir(staging)) {
    if (!entry.endsWith(".dist-info")) continue;
    const metadata = await readFile(join(staging, entry, "METADATA"), "utf8").catch(() => "");
    const name = metadata.match(/^Name: *(.+)$/m)?.[1]?.trim();
    const version = metadata.match(/^Version: *(.+)$/m)?.[1]?.trim();
    if (name && version) versions[name] = version;
  }
  return versions;
}

/** Name → version of every top-level package npm put in node_modules. */
async function nodeVersions(modules: string): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  const read = async (dir: string, name: string) => {
    const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8").catch(() => "{}")) as { version?: unknown };
    if (typeof manifest.version === "string") versions[name] = manifest.version;
  };
  for (const entry of await readdir(modules).catch(() => [] as string[])) {
    if (entry.startsWith(".")) continue;
    if (entry.startsWith("@")) {
      for (const scoped of await readdir(join(modules, entry))) await read(join(modules, entry, scoped), `${entry}/${scoped}`);
    } else {
      await read(join(modules, entry), entry);
    }
  }
  return versions;
}
