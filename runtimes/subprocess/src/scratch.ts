import { execFile } from "node:child_process";
import { chown, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { InfrastructureError } from "@coderouter/core";
import { inodesFor } from "./workspace-mount.js";

const exec = promisify(execFile);

/** A one-shot sandbox's writable places: a folder of its scratch mount → the path it is bound at. */
export const SCRATCH_MOUNTS = { work: "/work", tmp: "/tmp", shm: "/dev/shm" } as const;

/** Where scratch mounts are made: named after this process, so a later one's sweep finds those it left. */
const SCRATCH_PREFIX = `coderouter-sandbox-${process.pid}-`;

/** A sandbox's scratch mount, its folders owned by the sandbox's uid; release() once the sandbox has ended. */
export interface Scratch {
  dir: string;
  uid: number;
  release(): void;
}

/**
 * The scratch places of one-shot sandboxes (cold runs, bash scripts, fork-servers): one tmpfs per
 * sandbox at a time, mounted on the host, of three times SUBPROCESS_SANDBOX_DISK_MB (what /work,
 * /tmp and /dev/shm held together as bubblewrap's own tmpfs), and as many inodes as sessions get for
 * that size. bubblewrap's `--tmpfs` takes a size but no inode count, and tmpfs's default (half the
 * host's RAM pages, 3 million here) let one JavaScript execution make 1.1 million empty files in an
 * 8 MB /tmp in 25 s, 1.4 GB of the host's kernel memory; with a long timeout, ~11 GB.
 *
 * A mount takes an exec of mount(8) and another of umount(8): 80-100 ms more per cold run on this
 * loaded 2-core machine when each run had its own. So a mount is reused: each sandbox gets folders
 * under a fresh name in it, removed (whatever the code left) when it ends, and the mount goes back
 * to the idle ones. A fresh name, so a process of the last sandbox still dying can write only into
 * its own removed folder, never into the next one's.
 */
export class ScratchMounts {
  private readonly idle: string[] = [];
  private readonly pending = new Set<Promise<void>>();
  private closed = false;
  private uses = 0;

  constructor(
    private readonly diskMb: number,
    /** Idle mounts kept for the next sandboxes; more are unmounted. */
    private readonly keep = 4,
  ) {}

  async take(uid: number): Promise<Scratch> {
    if (this.closed) throw new InfrastructureError("subprocess", "the runtime has been closed");
    const mount = this.idle.pop() ?? (await this.mount());
    const dir = join(mount, String(++this.uses));
    try {
      await mkdir(dir, { mode: 0o711 });
      for (const name of Object.keys(SCRATCH_MOUNTS)) {
        await mkdir(join(dir, name), { mode: 0o755 });
        await chown(join(dir, name), uid, uid);
      }
    } catch (error) {
      this.track(unmount(mount));
      throw new InfrastructureError("subprocess", `a sandbox's scratch folders could not be made: ${(error as Error).message}`, { cause: error });
    }
    let released = false;
    return {
      dir,
      uid,
      release: () => {
        if (released) return;
        released = true;
        this.track(this.giveBack(mount, dir));
      },
    };
  }

  /** Unmounts the idle mounts and waits for every release under way. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.pending);
    await Promise.all(this.idle.splice(0).map(unmount));
  }

  private async giveBack(mount: string, dir: string): Promise<void> {
    const emptied = await rm(dir, { recursive: true, force: true }).then(
      () => true,
      () => false,
    );
    if (emptied && !this.closed && this.idle.length < this.keep) this.idle.push(mount);
    else await unmount(mount);
  }

  private async mount(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), SCRATCH_PREFIX));
    const size = 3 * this.diskMb;
    const options = `size=${size}m,nr_inodes=${inodesFor(size)},mode=0711,nosuid,nodev`;
    try {
      await exec("mount", ["-t", "tmpfs", "-o", options, "coderouter-scratch", dir]);
      return dir;
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      const e = error as Error & { stderr?: string };
      throw new InfrastructureError("subprocess", `a sandbox's scratch space (a bounded tmpfs) could not be mounted: ${(e.stderr || e.message).trim()}`);
    }
  }

  private track(work: Promise<void>): void {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }
}

/** Detached at once (a dying sandbox may still hold it), then its mount point removed. */
export async function unmount(dir: string): Promise<void> {
  await exec("umount", ["--lazy", dir]).catch(() => {});
  await rm(dir, { recursive: true, force: true }).catch(() => {});
}
