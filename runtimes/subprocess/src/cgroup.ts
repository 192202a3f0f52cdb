import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createDebug } from "@coderouter/core";
import { isAlive } from "./child.js";

const log = createDebug("coderouter:subprocess");

/** Folders of execution cgroups are named after the host process that made them. */
const PREFIX = "coderouter-";
/** Empty cgroups kept for the next executions, so that most take no mkdir or rmdir at all. */
const SPARES = 8;
let instances = 0;

/**
 * One execution's cgroup (v2). The child is moved in right after it is spawned and before it has
 * read its code from stdin, so everything the code starts is born inside, however it detaches
 * (setsid, double fork, `detached`), and `cgroup.kill` ends all of it at once, without a race.
 */
export class ExecutionCgroup {
  constructor(
    readonly dir: string,
    private readonly owner: ExecutionCgroups,
  ) {}

  /** Moves a process, with all its threads, into this cgroup. */
  join(pid: number): void {
    writeFileSync(join(this.dir, "cgroup.procs"), String(pid));
  }

  /** SIGKILL to every process in the cgroup (Linux 5.14's cgroup.kill). */
  kill(): void {
    killCgroup(this.dir);
  }

  /** Kills what is left and hands the cgroup back once it is empty (killed processes take a moment to go). */
  release(): Promise<void> {
    this.kill();
    return this.owner.recycle(this);
  }

  empty(): boolean {
    try {
      return readFileSync(join(this.dir, "cgroup.procs"), "utf8").trim() === "";
    } catch {
      return true;
    }
  }
}

/**
 * How a cold `process`-isolation child is kept from outliving its execution, where the host may
 * create cgroups: a cgroup v2 per execution under the host's own, killed whole when the execution
 * ends, times out, is aborted or the runtime closes. Measured against the alternatives (README,
 * "Benchmarks"): it costs two small writes per execution, where starting each cold child as pid 1
 * of a bubblewrap PID namespace costs a bwrap exec and a namespace (cold python 77 → 134 ms).
 * It needs cgroup v2 with cgroup.kill (Linux 5.14) and a cgroup the host may write: root, or a
 * delegated subtree (systemd `Delegate=yes`). Elsewhere `available()` says why not, and the
 * runtime falls back to the PID namespace.
 */
export class ExecutionCgroups {
  private probed?: Promise<string | undefined>;
  private base?: string;
  private readonly spares: ExecutionCgroup[] = [];
  private readonly live = new Set<ExecutionCgroup>();
  private made = 0;
  /** Why cgroups cannot be used here, once the probe found out. */
  reason = "";

  /** Whether this host lets us create, join and kill cgroups, tried once for real. */
  async available(): Promise<boolean> {
    this.probed ??= this.probe().catch((error: Error) => {
      this.reason = error.message.split("\n")[0]!;
      log(`no cgroup per execution (${this.reason}): plain cold children run in a PID namespace instead`);
      return undefined;
    });
    this.base = await this.probed;
    return this.base !== undefined;
  }

  /** The folder the execution cgroups live in, when available() found one. */
  get folder(): string | undefined {
    return this.base;
  }

  /** A fresh (empty) cgroup for one execution; only after available() said yes. */
  take(): ExecutionCgroup {
    const cgroup = this.spares.pop() ?? this.make();
    this.live.add(cgroup);
    return cgroup;
  }

  /** Waits until a released cgroup is empty, then keeps it as a spare (or removes it). */
  async recycle(cgroup: ExecutionCgroup): Promise<void> {
    for (let i = 0; i < 200 && !cgroup.empty(); i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      cgroup.kill();
    }
    this.live.delete(cgroup);
    if (this.base && this.spares.length < SPARES && cgroup.empty()) this.spares.push(cgroup);
    else remove(cgroup.dir);
  }

  /** Kills every execution still running (router.close()), then removes the cgroups. */
  async close(): Promise<void> {
    process.off("exit", this.killLive);
    const live = [...this.live];
    for (const cgroup of live) cgroup.kill();
    const base = this.base;
    this.base = undefined;
    await Promise.all(live.map((cgroup) => this.recycle(cgroup)));
    for (const spare of this.spares.splice(0)) remove(spare.dir);
    if (base) remove(base);
  }

  /** Kills the executions still running when the host exits (synchronous, as exit handlers are). */
  private killLive = () => {
    for (const cgroup of this.live) cgroup.kill();
  };

  private make(): ExecutionCgroup {
    const dir = join(this.base!, `e${this.made++}`);
    mkdirSync(dir);
    return new ExecutionCgroup(dir, this);
  }

  private async probe(): Promise<string> {
    const own = ownCgroup();
    sweepAbandoned(own);
    const base = join(own, `${PREFIX}${process.pid}-${instances++}`);
    mkdirSync(base);
    try {
      this.base = base;
      if (!existsSync(join(base, "cgroup.kill"))) throw new Error("this kernel has no cgroup.kill (Linux 5.14 or later)");
      await tryJoin(this.make());
    } catch (error) {
      remove(base);
      throw error;
    }
    process.on("exit", this.killLive);
    return base;
  }
}

/** The host's own cgroup v2 folder, from /proc/self/cgroup and the cgroup2 mount in /proc/self/mountinfo. */
function ownCgroup(): string {
  const path = /^0::(.*)$/m.exec(readFileSync("/proc/self/cgroup", "utf8"))?.[1];
  if (path === undefined) throw new Error("this host has no cgroup v2 hierarchy");
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [mount, rest] = line.split(" - ");
    if (!rest?.startsWith("cgroup2 ")) continue;
    const fields = mount!.split(" ");
    const root = fields[3]!;
    const mountPoint = fields[4]!;
    // A cgroup namespace (a container) mounts its own root: our path is relative to it.
    const relative = path.startsWith(root) ? path.slice(root.length) : path;
    return join(mountPoint, relative);
  }
  throw new Error("cgroup2 is not mounted");
}

/** Moves a short-lived process into the cgroup and kills it through cgroup.kill, as every execution will. */
async function tryJoin(cgroup: ExecutionCgroup): Promise<void> {
  const probe = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once("spawn", resolve);
      probe.once("error", reject);
    });
    const exited = new Promise((resolve) => probe.once("exit", resolve));
    cgroup.join(probe.pid!);
    cgroup.kill();
    await exited;
  } finally {
    probe.kill("SIGKILL");
  }
  await cgroup.release();
}

/** Removes what hosts that no longer exist left (a host killed before it could clean up). */
function sweepAbandoned(own: string): void {
  for (const name of readdirSync(own)) {
    const owner = Number(new RegExp(`^${PREFIX}(\\d+)-\\d+$`).exec(name)?.[1]);
    if (!owner || owner === process.pid || isAlive(owner)) continue;
    const base = join(own, name);
    for (const entry of readdirSync(base, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      killCgroup(join(base, entry.name));
      remove(join(base, entry.name));
    }
    remove(base);
  }
}

function killCgroup(dir: string): void {
  try {
    writeFileSync(join(dir, "cgroup.kill"), "1");
  } catch {
    // Already removed: nothing left in it.
  }
}

function remove(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Still populated (its processes are dying) or already gone: the next host's sweep removes it.
  }
}
