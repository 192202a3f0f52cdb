import { CoderouterError } from "./errors.js";

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
