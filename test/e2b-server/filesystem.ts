import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, posix } from "node:path";

/** The sandbox user's home, as E2B's templates have it. */
export const HOME = "/home/user";

/**
 * A sandbox's own filesystem on this machine: its changes over the host's files, which it sees
 * read-only (an overlay, as a Firecracker VM's root is one image with a writable layer). Every
 * write lands in the sandbox's root directory; a read finds the sandbox's file first, then the
 * host's. Top-level directories the host does not have (/workspace) and /home exist only in the
 * sandbox, and its processes see them at their sandbox paths through a mount namespace
 * (bubblewrap), so code that opens /workspace/data.csv finds the sandbox's file.
 */
export class SandboxFilesystem {
  readonly root = mkdtempSync(join(tmpdir(), "e2b-local-sandbox-"));
  /** The host directory of the sandbox's /home/user. */
  readonly home = join(this.root, HOME);

  constructor() {
    mkdirSync(this.home, { recursive: true });
  }

  /** HOME as the sandbox's processes see it. */
  get processHome(): string {
    return BWRAP ? HOME : this.home;
  }

  /** The host path a sandbox path is written to: relative paths are the user's home, as envd has them. */
  writable(path: string): string {
    return join(this.root, this.absolute(path));
  }

  /** The host path a sandbox path is read from: the sandbox's own file, else (outside its own directories) the host's. */
  readable(path: string): string {
    const absolute = this.absolute(path);
    const own = join(this.root, absolute);
    if (existsSync(own) || this.owns(absolute)) return own;
    return absolute;
  }

  /** The sandbox path of a path as envd would report it: absolute, the home expanded. */
  absolute(path: string): string {
    return posix.normalize(isAbsolute(path) ? path : posix.join(HOME, path));
  }

  /**
   * Starts a process of the sandbox: it sees the host's files, with the sandbox's own top-level
   * directories and /home mounted over them, and starts in `cwd` (a sandbox path). Without
   * bubblewrap it runs in the host directory of `cwd`, and absolute sandbox paths do not resolve.
   */
  spawn(command: string, args: string[], options: SpawnOptions & { cwd: string }): ChildProcess {
    if (!BWRAP) return spawn(command, args, { ...options, cwd: this.writable(options.cwd) });
    const mounts: string[] = [];
    for (const name of readdirSync("/")) {
      if (name === "proc" || name === "dev" || name === "home" || this.ownsTop(name)) continue;
      const path = `/${name}`;
      const stat = lstatSync(path);
      if (stat.isSymbolicLink()) mounts.push("--symlink", readlinkSync(path), path);
      else if (stat.isDirectory()) mounts.push("--dev-bind", path, path);
    }
    for (const name of readdirSync(this.root)) mounts.push("--bind", join(this.root, name), `/${name}`);
    return spawn(
      BWRAP,
      ["--die-with-parent", ...mounts, "--proc", "/proc", "--dev-bind", "/dev", "/dev", "--chdir", this.absolute(options.cwd), "--", command, ...args],
      { ...options, cwd: "/" },
    );
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Whether the path lies in a directory only the sandbox has. */
  private owns(absolute: string): boolean {
    return this.ownsTop(absolute.split("/")[1] ?? "");
  }

  private ownsTop(name: string): boolean {
    return name === "home" || (name !== "" && !existsSync(`/${name}`));
  }
}

const BWRAP = ["/usr/bin/bwrap", "/bin/bwrap"].find((path) => existsSync(path));
