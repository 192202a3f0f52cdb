import { execFile } from "node:child_process";
import { chmod, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { InfrastructureError, WORKSPACE } from "@coderouter/core";

const exec = promisify(execFile);

/**
 * Where a sandboxed session can write: a folder of the session's host folder → the path each of
 * its sandboxes (one per language, and one per bash call) binds it at. Each is a tmpfs mounted on
 * the host, bounded as a one-shot sandbox's `/work` and `/tmp` are (SUBPROCESS_SANDBOX_DISK_MB),
 * plus an inode cap bubblewrap's own `--tmpfs` cannot set. `/tmp` and `/dev/shm` are the session's
 * too, not each sandbox's: a worker's private tmpfs lives as long as the session, and with
 * tmpfs's default inode count one session once held 300,000 empty files (375 MB of the host's
 * kernel memory) in its python worker's /tmp and /dev/shm alone.
 */
export const SESSION_MOUNTS = { workspace: WORKSPACE, tmp: "/tmp", shm: "/dev/shm" } as const;

/**
 * Mounts the session's places in `dir`, owned by the session's uid, without set-uid programs or
 * devices. Sandboxes already need root (each runs as a uid of its own), so the mount is there
 * wherever they are; a host that refuses it gets no sandboxed session rather than an unbounded one.
 */
export async function mountSession(dir: string, uid: number, sizeMb: number): Promise<void> {
  // The sandbox's uid (bubblewrap binds as that uid) goes through the folder to its own mounts.
  await chmod(dir, 0o711);
  const options = `size=${sizeMb}m,nr_inodes=${inodesFor(sizeMb)},mode=0700,uid=${uid},gid=${uid},nosuid,nodev`;
  for (const name of Object.keys(SESSION_MOUNTS)) {
    await mkdir(join(dir, name), { mode: 0o700 });
    await exec("mount", ["-t", "tmpfs", "-o", options, "coderouter-workspace", join(dir, name)]).catch((error: Error & { stderr?: string }) => {
      throw new InfrastructureError(
        "subprocess",
        `a sandboxed session's workspace (a bounded tmpfs) could not be mounted: ${(error.stderr || error.message).trim()}`,
      );
    });
  }
}

/**
 * The files (and directories) a tmpfs of `sizeMb` may hold: one per 4 KiB page, the least a non-empty file
 * takes, so small files meet this limit about when they meet the size. `size` bounds only the
 * data: an empty file costs none of it, yet its inode and name cost the kernel about 1.3 KiB of
 * memory outside any cap (measured: 300,000 empty files with long names, 380 MB of slab), and
 * tmpfs's default of half the host's RAM pages let one session pin gigabytes that way.
 */
export function inodesFor(sizeMb: number): number {
  return sizeMb * 256;
}

/** Detached at once even if something still holds them; their memory goes with the last holder. */
export async function unmountSession(dir: string): Promise<void> {
  await Promise.all(Object.keys(SESSION_MOUNTS).map((name) => exec("umount", ["--lazy", join(dir, name)]).catch(() => {})));
}
