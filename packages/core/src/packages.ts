import { CoderouterError } from "./errors.js";
import type { Language } from "./schemas.js";

/** What a session's package installation did: the packages asked for, what is now installed, and the installer's output. */
export interface InstallOutcome {
  requested: string[];
  /** Name → installed version of each package asked for. */
  installed: Record<string, string>;
  stdout: string;
  stderr: string;
}

export interface InstallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** The installer's output as it is written. */
  onStdout?(chunk: string): void;
  onStderr?(chunk: string): void;
}

/** The installer refused or failed: names the packages and carries the installer's output. Retrying the same specs will not help. */
export class PackageInstallError extends CoderouterError {
  readonly kind = "package_install";
  readonly statusCode = 422;
  constructor(
    readonly packages: string[],
    reason: string,
    readonly output: { stdout: string; stderr: string } = { stdout: "", stderr: "" },
    options?: ErrorOptions,
  ) {
    super(`could not install ${packages.join(", ")}: ${reason}`, options);
  }
}

/**
 * pip takes a requirement with `/` as a local path and one ending in .whl/.zip/.tar.gz as a file;
 * npm takes `a/b` as a GitHub repository and a name ending in .tgz as a tarball on disk. A spec
 * here is only a name, extras and version constraints, so it names a registry package and nothing else.
 */
const PIP_SPEC = /^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?( *(===|==|!=|~=|>=|<=|<|>) *[A-Za-z0-9.*+!_-]+ *,?)*$/;
const NPM_SPEC = /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*(@[A-Za-z0-9.^~<>=|*+_ -]+)?$/;
const ARCHIVE = /\.(whl|zip|tgz|tar|tar\.gz|tar\.bz2)$/i;

/** Refuses any spec that is not a plain registry package for the language's installer. */
export function checkPackageSpecs(language: Language, specs: string[]): void {
  const pattern = language === "python" ? PIP_SPEC : NPM_SPEC;
  const bad = specs.find((spec) => !pattern.test(spec) || ARCHIVE.test(spec));
  if (bad !== undefined) {
    throw new PackageInstallError(
      [bad],
      language === "python"
        ? "not a package name with optional extras and version constraints (e.g. requests==2.32.3): paths, URLs, archives and options are refused"
        : "not an npm package name with an optional version (e.g. lodash@4): paths, URLs, repositories, tarballs and options are refused",
    );
  }
}

/** The package names of specs already checked (extras and version constraints left off). */
export function packageNames(specs: string[]): string[] {
  return specs.map((spec) => /^(@[^/]+\/)?[^@[=<>!~ ,]+/.exec(spec)![0]);
}
