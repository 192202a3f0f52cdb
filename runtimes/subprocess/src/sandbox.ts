import { execFile, execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { runnersDir } from "@coderouter/core";
import { interpreterEnv } from "./env.js";

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
const WORKDIR = "/work";
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
  private runners?: string;

  constructor(readonly settings: SandboxSettings) {}

  /** Whether bwrap works on this host, tried once for real (a sandboxed `python3 -c pass`). */
  probe(): Promise<{ ok: boolean; reason: string }> {
    this.probed ??= (async () => {
      try {
        const { file, args, uid } = this.command(this.settings.pythonBin, ["-I", "-c", "print('ok')"], {}, false);
        const { stdout } = await exec(file, args, { uid, gid: uid, timeout: 15_000, env: {} });
        if (stdout.trim() !== "ok") return { ok: false, reason: `a sandboxed test run printed ${JSON.stringify(stdout)}` };
        const { stdout: version } = await exec(this.settings.bwrapBin, ["--version"]);
        return { ok: true, reason: `${version.trim()} sandbox ready (python ${this.settings.pythonBin})` };
      } catch (error) {
        const e = error as { code?: string; stderr?: string; message: string };
        if (e.code === "ENOENT") return { ok: false, reason: `${this.settings.bwrapBin} was not found` };
        return { ok: false, reason: `bubblewrap does not work here: ${(e.stderr || e.message).trim().split("\n").pop()}` };
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
  ): { file: string; args: string[]; uid: number } {
    const uid = FIRST_UID + (nextUid++ % UIDS);
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
    const environment = interpreterEnv(undefined, { HOME: WORKDIR, TMPDIR: "/tmp", ...env });
    return {
      file: this.settings.bwrapBin,
      uid,
      args: [
        "--unshare-all",
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
        this.runnersCopy(),
        SANDBOX_RUNNERS,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        size,
        "--tmpfs",
        WORKDIR,
        "--size",
        size,
        "--tmpfs",
        "/tmp",
        // The sandbox's root (and the /etc made in it) becomes read-only: only /work and /tmp take writes.
        "--remount-ro",
        "/",
        "--chdir",
        WORKDIR,
        "--clearenv",
        ...Object.entries(environment).flatMap(([k, v]) => ["--setenv", k, v]),
        "--",
        "/usr/bin/prlimit",
        `--nproc=${this.settings.processes}`,
        `--fsize=${size}`,
        "--",
        interpreter,
        ...args,
      ],
    };
  }

  /**
   * The wrappers, copied once to a world-readable place: the sandbox runs as an unprivileged uid
   * that may not be able to read the installation (a home directory is often 0700).
   */
  private runnersCopy(): string {
    if (this.runners) return this.runners;
    const files = readdirSync(runnersDir).filter((f) => /\.(py|cjs)$/.test(f)).sort();
    const hash = createHash("sha256");
    for (const file of files) hash.update(file).update(readFileSync(join(runnersDir, file)));
    // Named by content, so every process of the same installation shares one copy.
    const target = join(tmpdir(), `coderouter-runners-${hash.digest("hex").slice(0, 16)}`);
    if (!existsSync(target)) {
      const staging = `${target}.${process.pid}`;
      mkdirSync(staging, { recursive: true, mode: 0o755 });
      for (const file of files) copyFileSync(join(runnersDir, file), join(staging, file));
      // Bytecode compiled now: the sandbox's copy is read-only, so Python could not cache it there.
      spawnSync(this.settings.pythonBin, ["-m", "py_compile", join(staging, "coderouter_runner.py")]);
      execFileSync("chmod", ["-R", "a+rX", staging]);
      try {
        renameSync(staging, target);
      } catch {
        rmSync(staging, { recursive: true, force: true }); // another process made it first
      }
    }
    this.runners = target;
    return target;
  }
}
