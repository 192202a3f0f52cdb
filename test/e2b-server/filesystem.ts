import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
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
   * directories and /home mounted over them, and starts in `cwd` (a sandbox path). The view is
   * a mount namespace of its own (unshare, then chroot into a tmpfs of bind mounts), entered by
   * exec all the way, so the pid is the command's own and signals reach it as envd's would.
   * HOME is set to the user's home as the process sees it. Without the tools (or root), or when the
   * sandbox has no directory of its own but its home, it runs in the host directory of `cwd`,
   * where absolute sandbox paths do not resolve. A top-level directory made after a process started is not in its view
   * (a real sandbox has one filesystem): coderouter makes /workspace before any context.
   */
  spawn(command: string, args: string[], options: SpawnOptions & { cwd: string }): ChildProcess {
    const own = readdirSync(this.root).filter((name) => name !== MOUNT && this.ownsTop(name));
    // Only a sandbox with directories of its own beyond /home needs the view (a session's
    // /workspace): the others' processes start directly, as cheaply as before.
    if (!VIEW || own.every((name) => name === "home")) {
      return spawn(command, args, { ...options, cwd: this.readable(options.cwd), env: { HOME: this.home, ...options.env } });
    }
    mkdirSync(join(this.root, MOUNT), { recursive: true });
    return spawn(
      VIEW.unshare,
      ["--mount", "--", "/bin/sh", "-c", VIEW_SCRIPT, "sh", join(this.root, MOUNT), this.root, own.join(" "), this.absolute(options.cwd), command, ...args],
      {
        ...options,
        env: { HOME, ...options.env },
        cwd: "/",
      },
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

/** The folder in a sandbox's root where its processes' view is mounted (in their namespace only). */
const MOUNT = ".view";

const VIEW = ((unshare, chroot) => (process.getuid?.() === 0 && existsSync(unshare) && existsSync(chroot) ? { unshare, chroot } : undefined))(
  "/usr/bin/unshare",
  "/usr/sbin/chroot",
);

/**
 * Run by sh in the new mount namespace: $1 the mount point, $2 the sandbox's root, $3 its own
 * top-level directories, $4 the working directory, then the command. Every other host top-level
 * entry is bound (symlinks copied), then the sandbox's own over them, then chroot and exec. Its
 * variables are unset before the exec: the command's environment (a script's inputs) is its own.
 */
const VIEW_SCRIPT = `
_v_view=$1 _v_root=$2 _v_own=" $3 " _v_cwd=$4; shift 4
mount -t tmpfs tmpfs "$_v_view" || exit 125
for _v_entry in /*; do
  _v_name=\${_v_entry#/}
  case "$_v_own" in *" $_v_name "*) continue;; esac
  if [ -L "$_v_entry" ]; then ln -s "$(readlink "$_v_entry")" "$_v_view/$_v_name"
  elif [ -d "$_v_entry" ]; then mkdir "$_v_view/$_v_name" && mount --rbind "$_v_entry" "$_v_view/$_v_name" || exit 125; fi
done
for _v_name in $_v_own; do mkdir "$_v_view/$_v_name" && mount --rbind "$_v_root/$_v_name" "$_v_view/$_v_name" || exit 125; done
set -- "$_v_view" "$_v_cwd" "$@"
unset _v_view _v_root _v_own _v_cwd _v_entry _v_name
exec /usr/sbin/chroot "$1" /bin/sh -c 'cd "$2" || exit 125; shift 2; exec "$@"' sh "$@"
`;
