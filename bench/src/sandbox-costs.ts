import { openSync, closeSync } from "node:fs";
import { execa } from "execa";
import { createRouter } from "coderouter";
import { ExecutionCgroups, type Bubblewrap } from "@coderouter/runtime-subprocess";
import { interleaved, percentile, summary } from "./measure.js";
import type { Row } from "./table.js";

const cleanEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin" };

/** A bwrap command as the runtime builds it, spawned with its seccomp program on fd 4. */
export function spawnSandboxed(command: { file: string; args: string[]; uid: number; files: string[] }) {
  const fds = command.files.map((file) => openSync(file, "r"));
  try {
    return execa(command.file, command.args, {
      uid: command.uid,
      gid: command.uid,
      extendEnv: false,
      env: {},
      stdio: ["pipe", "pipe", "pipe", "pipe", ...fds] as unknown as ["pipe", "pipe", "pipe", "pipe"],
    });
  } finally {
    fds.forEach((fd) => closeSync(fd));
  }
}

function costRow(name: string, baselineName: string, ours: number[], base: number[], note = ""): Row {
  const extra = percentile(ours, 50) - percentile(base, 50);
  return {
    name,
    ours: summary(ours, 0),
    baseline: summary(base, 0),
    baselineName,
    target: `recorded: costs ${extra.toFixed(2)} ms p50${note}`,
    met: true,
  };
}

/**
 * What each hardening measure costs, beside the same work without it: the seccomp filter on a cold
 * sandbox, the fork-server's clean-up of files an execution left, and the three ways of keeping
 * processes from outliving an execution that were measured before one was chosen (README).
 */
export async function sandboxCostRows(rounds: (n: number) => number, sandbox: Bubblewrap, pythonBin: string): Promise<Row[]> {
  const rows: Row[] = [];
  // One scratch mount for every round of both: the filter is what differs.
  const filtered = await sandbox.oneShot(pythonBin, ["-I", "-c", "1 + 1"], {}, false);
  const at = filtered.args.indexOf("--seccomp");
  const unfiltered = { ...filtered, files: [], args: filtered.args.filter((_, i) => i !== at && i !== at + 1) };
  const [withFilter, without] = await interleaved(
    rounds(100),
    () => spawnSandboxed(filtered),
    () => spawnSandboxed(unfiltered),
  );
  filtered.release();
  rows.push(costRow("seccomp filter: cold bwrap + python with the filter loaded (--seccomp)", "the same sandbox without the filter", withFilter, without));

  const router = createRouter({ settings: { enabledRuntimes: ["subprocess"] }, runtimeSettings: { subprocess: {} } });
  const litter = "for p in ('/work', '/tmp', '/dev/shm'):\n    open(p + '/left', 'w').write('x' * 4096)\n    __import__('os').makedirs(p + '/d/e')";
  const run = (code: string) => () => router.execute({ language: "python", code, runtime: "subprocess", isolation: "sandbox" });
  for (let i = 0; i < 10; i++) await run("1 + 1")();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const [littered, clean] = await interleaved(rounds(200), run(litter), run("1 + 1"));
  rows.push(
    costRow(
      "clean-up: sandboxed fork-server execution leaving files and folders in /work, /tmp, /dev/shm",
      "one that leaves none (both killed kill(-1) and emptied)",
      littered,
      clean,
    ),
  );
  await router.close();

  const node = [process.execPath, "-e", "1 + 1"];
  const bare = () => execa(node[0]!, node.slice(1), { extendEnv: false, env: cleanEnv });
  const pidNamespace = () =>
    execa(sandbox.settings.bwrapBin, ["--dev-bind", "/", "/", "--unshare-pid", "--as-pid-1", "--die-with-parent", "--", ...node], {
      extendEnv: false,
      env: cleanEnv,
    });
  const [inNamespace, bare1] = await interleaved(rounds(100), pidNamespace, bare);
  rows.push(
    costRow(
      "process tracking, PID namespace (the fallback, and for long-lived workers): cold node as pid 1 of bwrap --unshare-pid",
      "a bare cold node",
      inNamespace,
      bare1,
    ),
  );

  const reaper = `import ctypes, os, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
os.waitpid(pid, 0)
for adopted in open(f"/proc/self/task/{os.getpid()}/children").read().split():
    os.kill(int(adopted), 9)
`;
  const subreaper = () => execa(pythonBin, ["-I", "-S", "-c", reaper, ...node], { extendEnv: false, env: cleanEnv });
  const [underReaper, bare2] = await interleaved(rounds(100), subreaper, bare);
  rows.push(costRow("process tracking, subreaper: cold node under a python subreaper (node cannot be one)", "a bare cold node", underReaper, bare2));

  const cgroups = new ExecutionCgroups();
  if (await cgroups.available()) {
    // As the runtime does it: the host moves the spawned child in, then kills the cgroup at its end.
    const inCgroup = async () => {
      const cgroup = cgroups.take();
      const child = execa(node[0]!, node.slice(1), { extendEnv: false, env: cleanEnv });
      cgroup.join(child.pid!);
      await child;
      await cgroup.release();
    };
    const [tracked, bare3] = await interleaved(rounds(100), inCgroup, bare);
    rows.push(
      costRow(
        "process tracking, cgroup v2 (chosen where the host may make cgroups): cold node moved into a cgroup by the host, cgroup.kill at its end",
        "a bare cold node",
        tracked,
        bare3,
        " (needs a writable cgroup v2 tree: root or delegation; elsewhere the PID namespace)",
      ),
    );
    await cgroups.close();
  } else {
    console.error(`no cgroup row: ${cgroups.reason}`);
  }
  return rows;
}
