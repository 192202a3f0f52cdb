import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { InfrastructureError } from "@coderouter/core";

const exec = promisify(execFile);

/**
 * A sandboxed session's workspace is shared by its sandboxes (one per language), so it cannot be
 * one sandbox's private tmpfs as `/work` is; instead it is a tmpfs of its own mounted on the
 * session's host directory, bounded as `/work` is (SUBPROCESS_SANDBOX_DISK_MB), owned by the
 * session's uid, without set-uid programs or devices. Sandboxes already need root (each runs as a
 * uid of its own), so the mount is there wherever they are; a host that refuses it gets no
 * sandboxed session rather than an unbounded one.
 */
export async function mountWorkspace(dir: string, uid: number, sizeMb: number): Promise<void> {
  const options = `size=${sizeMb}m,nr_inodes=${workspaceInodes(sizeMb)},mode=0700,uid=${uid},gid=${uid},nosuid,nodev`;
  await exec("mount", ["-t", "tmpfs", "-o", options, "coderouter-workspace", dir]).catch((error: Error & { stderr?: string }) => {
    throw new InfrastructureError(
      "subprocess",
      `a sandboxed session's workspace (a bounded tmpfs) could not be mounted: ${(error.stderr || error.message).trim()}`,
    );
  });
}

/**
 * The files (and directories) a workspace may hold: one per 4 KiB page, the least a non-empty file
 * takes, so small files meet this limit about when they meet the size. `size` bounds only the
 * data: an empty file costs none of it, yet its inode and name cost the kernel about 1.3 KiB of
 * memory outside any cap (measured: 300,000 empty files with long names, 380 MB of slab), and
 * tmpfs's default of half the host's RAM pages let one session pin gigabytes that way.
 */
export function workspaceInodes(sizeMb: number): number {
  return sizeMb * 256;
}

/** Detached at once even if something still holds it; its memory goes with the last holder. */
export async function unmountWorkspace(dir: string): Promise<void> {
  await exec("umount", ["--lazy", dir]).catch(() => {});
}
