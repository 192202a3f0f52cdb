import { execa } from "execa";
import { createDebug } from "@coderouter/core";

const log = createDebug("coderouter:subprocess");

/**
 * Wraps a plain child's command line (in a PID namespace, or not at all); `readOnly` directories
 * are bound read-only where the namespace can do it.
 */
export type Confinement = (command: { file: string; args: string[] }, readOnly?: string[]) => { file: string; args: string[] };

/**
 * How a plain (`process` isolation) child is kept from outliving its execution: it runs as pid 1 of
 * a PID namespace of its own, made by bubblewrap with the host's whole filesystem bound in
 * (`--dev-bind / /`: nothing else changes for trusted code). When that pid 1 ends, or is killed
 * for a limit, the kernel kills every process left in the namespace — setsid daemons, double
 * forks and detached children included — at once and without a race.
 *
 * Chosen over the alternatives, measured in `npm run bench -- --only=subprocess` (README):
 * - a child subreaper needs a long-lived parent that adopts the orphans, which node cannot be
 *   (no prctl), and it loses them the moment it is killed itself (they go to init);
 * - a cgroup (cgroup.kill) needs a delegated cgroup v2 subtree, which a library or a container
 *   rarely has (this machine has a v1 hierarchy), and joining it without a race needs clone3;
 * - the namespace costs one bwrap exec per cold start (a few ms) and works unprivileged wherever
 *   bubblewrap does. Where it does not, children fall back to their process group and a kill of
 *   their process tree, which a double-forked daemon can escape: `doctor` says so.
 */
export class PidNamespace {
  private probed?: Promise<boolean>;

  constructor(private readonly bwrapBin: string) {}

  /** Whether bwrap can make a PID namespace here, tried once for real. */
  available(): Promise<boolean> {
    this.probed ??= execa(this.bwrapBin, [...this.prefix(), "true"], { timeout: 15_000, env: {}, extendEnv: false, cleanup: false })
      .then(() => true)
      .catch((error: Error) => {
        log(`no PID namespace for plain children (${error.message.split("\n")[0]}): they are tracked by process group and tree`);
        return false;
      });
    return this.probed;
  }

  /** `file args` run as pid 1 of a new PID namespace; `readOnly` directories bound over themselves read-only. */
  wrap(file: string, args: string[], readOnly: string[] = []): { file: string; args: string[] } {
    return { file: this.bwrapBin, args: [...this.prefix(readOnly), file, ...args] };
  }

  private prefix(readOnly: string[] = []): string[] {
    // --as-pid-1: the interpreter itself is pid 1, so its end ends the namespace (no reaper of
    // bwrap's own that would outlive it); --die-with-parent: it ends with the host.
    const mounts = readOnly.flatMap((dir) => ["--ro-bind", dir, dir]);
    return ["--dev-bind", "/", "/", ...mounts, "--unshare-pid", "--as-pid-1", "--die-with-parent", "--"];
  }
}

/**
 * Node's memory beyond V8's heap (Buffers, typed arrays, native allocations): RLIMIT_DATA counts
 * every private writable mapping, so it is set to memoryMb plus what node itself needs to start and
 * run its young generation (measured: node starts under 64 MB; 96 MB leaves room for the heap's
 * own overhead). A 512 MB Buffer under memoryMb 64 then fails to allocate instead of succeeding.
 */
export const NODE_DATA_HEADROOM_MB = 96;

export function nodeDataLimit(memoryMb: number | undefined): number | undefined {
  return memoryMb ? (memoryMb + NODE_DATA_HEADROOM_MB) * 1024 * 1024 : undefined;
}

/** `file args` under an RLIMIT_DATA, when there is one to set. */
export function withDataLimit(file: string, args: string[], bytes: number | undefined): { file: string; args: string[] } {
  return bytes ? { file: "/usr/bin/prlimit", args: [`--data=${bytes}`, "--", file, ...args] } : { file, args };
}
