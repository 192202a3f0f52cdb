import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { execa } from "execa";
import { childStdio } from "./descriptors.js";
import { InfrastructureError, WORKSPACE } from "@coderouter/core";
import { interpreterEnv } from "./env.js";
import { privateRunners, SeccompUnavailableError, type PrivateRunners } from "./private-runners.js";
import { ScratchMounts, type SCRATCH_MOUNTS } from "./scratch.js";
import type { SESSION_MOUNTS } from "./workspace-mount.js";

export interface SandboxSettings {
  bwrapBin: string;
  pythonBin: string;
  nodeBin: string;
  /** Whether a request's `network: true` may be granted at all. */
  allowNetwork: boolean;
  /** Size of the private /work and /tmp, each (MB). */
  diskMb: number;
  /** Processes and threads the code may run at once. */
  processes: number;
}

/** Where the wrappers appear inside the sandbox. */
export const SANDBOX_RUNNERS = "/coderouter";
/** Where a one-shot request's package environment appears inside the sandbox (read-only). */
export const SANDBOX_PACKAGES = "/coderouter-packages";
const WORKDIR = "/work";
/**
 * A sandboxed session's places: a host folder holding its bounded tmpfs mounts (SESSION_MOUNTS),
 * owned by the session's one uid and bound at /workspace, /tmp and /dev/shm in each of the
 * session's sandboxes (one per language), so they all see the same files.
 */
export interface SandboxWorkspace {
  dir: string;
  uid: number;
}
/**
 * Each sandbox runs as a uid of its own, never used by anything else on the host: RLIMIT_NPROC
 * counts per uid (and never applies to root), so a fork bomb meets its limit and nobody else's.
 */
const FIRST_UID = 200_000;
const UIDS = 60_000;
let nextUid = 0;

const exec = promisify(execFile);

/**
 * Runs an interpreter inside bubblewrap: new user, pid, net, ipc, uts and cgroup namespaces; the
 * system directories read-only; a private /work and /tmp of bounded size; no host home, no host
 * /etc beyond the dynamic linker's cache (and name resolution, when the network is granted); its
 * own /proc; a cleared environment; dies with its parent; and rlimits on processes and file size.
 */
export class Bubblewrap {
  private probed?: Promise<{ ok: boolean; reason: string }>;
  private runners?: PrivateRunners;
  private scratchMounts?: ScratchMounts;

  constructor(readonly settings: SandboxSettings) {}

  /** Whether bwrap works on this host, tried once for real (a sandboxed `python3 -c pass`). */
  probe(): Promise<{ ok: boolean; reason: string }> {
    this.probed ??= (async () => {
      let scratch: (() => void) | undefined;
      try {
        // Through a scratch mount like every one-shot's: a host that cannot mount one has no sandbox.
        const { file, args, uid, files, release: unmount } = await this.oneShot(this.settings.pythonBin, ["-I", "-c", "print('ok')"], {}, false);
        scratch = unmount;
        const { stdio, release } = childStdio(files);
        const probe = execa(file, args, {
          uid,
          gid: uid,
          timeout: 15_000,
          env: {},
          extendEnv: false,
          stdio: stdio as unknown as ["pipe", "pipe", "pipe", "pipe"],
          encoding: "utf8",
        });
        release();
        const { stdout } = await probe;
        if (stdout.trim() !== "ok") return { ok: false, reason: `a sandboxed test run printed ${JSON.stringify(stdout)}` };
        const { stdout: version } = await exec(this.settings.bwrapBin, ["--version"]);
        return { ok: true, reason: `${version.trim()} sandbox ready, seccomp filter on (python ${this.settings.pythonBin})` };
      } catch (error) {
        const e = error as { code?: string; stderr?: string; message: string };
        if (e.code === "ENOENT") return { ok: false, reason: `${this.settings.bwrapBin} was not found` };
        if (error instanceof SeccompUnavailableError) return { ok: false, reason: error.message };
        if (error instanceof InfrastructureError) return { ok: false, reason: error.message };
        return { ok: false, reason: `bubblewrap does not work here: ${(e.stderr || e.message).trim().split("\n").pop()}` };
      } finally {
        scratch?.();
      }
    })();
    return this.probed;
  }

  /** The bwrap command line that runs `interpreter args` in a fresh sandbox, and the uid to run it as. */
  command(
    interpreter: string,
    args: string[],
    env: Record<string, string>,
    network: boolean,
    /** RLIMIT_DATA in bytes (node's memory beyond its heap), when set. */
    dataBytes: number | undefined,
    /** Where it writes, as whose uid: a session's places (its workspace the working directory), or a
     * one-shot's scratch mount (/work); and host directories bound read-only inside, host path → path
     * inside (a package environment). */
    place: ({ workspace: SandboxWorkspace; scratch?: undefined } | { scratch: SandboxWorkspace; workspace?: undefined }) & {
      readOnly?: Record<string, string>;
    },
  ): { file: string; args: string[]; uid: number; files: string[] } {
    const { workspace } = place;
    const own = workspace ?? place.scratch;
    const runners = this.runnersCopy();
    const { uid } = own;
    const workdir = workspace ? WORKSPACE : WORKDIR;
    const size = String(this.settings.diskMb * 1024 * 1024);
    const mounts = ["--ro-bind", "/usr", "/usr"];
    for (const dir of ["/bin", "/lib", "/lib64", "/sbin"]) {
      if (existsSync(dir)) mounts.push("--ro-bind", dir, dir);
    }
    // Debian's matplotlib reads its defaults from /etc/matplotlibrc (it will not import without
    // it) and renders text with the fonts fontconfig finds through /etc/fonts.
    const etc = ["/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives", "/etc/matplotlibrc", "/etc/fonts"];
    if (network) etc.push("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl", "/etc/ca-certificates");
    for (const path of etc) if (existsSync(path)) mounts.push("--ro-bind", path, path);
    for (const [source, target] of Object.entries(place.readOnly ?? {})) mounts.push("--ro-bind", source, target);
    const environment = interpreterEnv(undefined, { HOME: workdir, TMPDIR: "/tmp", ...env });
    // Writable places are folders of bounded mounts made on the host (workspace-mount.ts, scratch.ts),
    // which cap inodes as bubblewrap's own --tmpfs cannot.
    const scratch = (folder: keyof typeof SESSION_MOUNTS | keyof typeof SCRATCH_MOUNTS, target: string) => ["--bind", join(own.dir, folder), target];
    return {
      file: this.settings.bwrapBin,
      uid,
      // fd 4: the seccomp program, compiled once (see privateRunners).
      files: [runners.seccomp],
      args: [
        "--unshare-all",
        "--unshare-user",
        // Nested user namespaces would hand the code every capability inside them (the seccomp
        // filter denies unshare and namespace clones too: two locks on one door).
        "--disable-userns",
        "--seccomp",
        "4",
        ...(network ? ["--share-net"] : []),
        "--die-with-parent",
        "--new-session",
        // No reaper process of bwrap's own as the namespace's pid 1: it would outlive the outer
        // bwrap for a moment and end as a zombie of the host's init, which may never reap it.
        "--as-pid-1",
        "--hostname",
        "sandbox",
        ...mounts,
        "--ro-bind",
        runners.dir,
        SANDBOX_RUNNERS,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        // bwrap's /dev/shm is a folder of the unbounded /dev tmpfs: a bounded tmpfs of its own instead.
        ...scratch("shm", "/dev/shm"),
        // Nothing else in /dev takes new files: /work, /tmp and /dev/shm are all the scratch space.
        "--remount-ro",
        "/dev",
        ...(workspace ? scratch("workspace", WORKSPACE) : scratch("work", WORKDIR)),
        ...scratch("tmp", "/tmp"),
        // The sandbox's root (and the /etc made in it) becomes read-only: only /work and /tmp take writes.
        "--remount-ro",
        "/",
        "--chdir",
        workdir,
        "--clearenv",
        ...Object.entries(environment).flatMap(([k, v]) => ["--setenv", k, v]),
        "--",
        "/usr/bin/prlimit",
        `--nproc=${this.settings.processes}`,
        `--fsize=${size}`,
        ...(dataBytes ? [`--data=${dataBytes}`] : []),
        "--",
        interpreter,
        ...args,
      ],
    };
  }

  /**
   * The command of a one-shot sandbox (a cold run, a bash script, a fork-server): a uid of its own
   * and a scratch mount made for it, to release() once the sandbox has ended.
   */
  async oneShot(
    interpreter: string,
    args: string[],
    env: Record<string, string>,
    network: boolean,
    dataBytes?: number,
    readOnly: Record<string, string> = {},
  ): Promise<ReturnType<Bubblewrap["command"]> & { release(): void }> {
    this.scratchMounts ??= new ScratchMounts(this.settings.diskMb);
    const scratch = await this.scratchMounts.take(this.takeUid());
    return { ...this.command(interpreter, args, env, network, dataBytes, { scratch, readOnly }), release: scratch.release };
  }

  /** Unmounts the scratch mounts kept ready, and waits for those being released. */
  async close(): Promise<void> {
    await this.scratchMounts?.close();
  }

  /** A uid no other sandbox is running as (see FIRST_UID). */
  takeUid(): number {
    return FIRST_UID + (nextUid++ % UIDS);
  }

  /** The private copy of the wrappers and the seccomp program, made once per process. */
  private runnersCopy(): PrivateRunners {
    this.runners ??= privateRunners(this.settings.pythonBin);
    return this.runners;
  }
}
