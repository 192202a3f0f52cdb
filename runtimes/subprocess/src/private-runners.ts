import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InfrastructureError, runnersDir } from "@coderouter/core";

export interface PrivateRunners {
  /** The wrappers, for bubblewrap to bind read-only at /coderouter. */
  dir: string;
  /** The seccomp filter as a BPF program, for bubblewrap's --seccomp. */
  seccomp: string;
}

/** The filter could not be built (no libseccomp bindings for the sandbox's python). */
export class SeccompUnavailableError extends InfrastructureError {
  constructor(detail: string) {
    super(
      "subprocess",
      `the sandbox's seccomp filter could not be built (${detail}); install python3-seccomp (apt-get install -y python3-seccomp) for SUBPROCESS_SANDBOX_PYTHON_BIN`,
    );
  }
}

const SECCOMP_SCRIPT = fileURLToPath(new URL("../seccomp/coderouter_seccomp.py", import.meta.url));

/**
 * Copies the wrappers into a folder only this process can enter: mkdtemp makes it (mode 0700,
 * under a name nobody can guess or create first), its owner and mode are checked before anything
 * is written, and it is removed when the process exits. A shared, predictable path could be made
 * first by another local user and filled with their own wrapper, which would then run every
 * sandboxed execution. Once filled, the folder becomes 0711: bubblewrap, running as the sandbox's
 * own uid, must traverse it to bind the wrappers (a descriptor will not do: bwrap cannot follow
 * /proc/self/fd once it has changed uid), yet nobody else can list it or learn its random name.
 * The seccomp program is compiled here too, once, by the sandbox's python and libseccomp.
 */
export function privateRunners(pythonBin: string): PrivateRunners {
  // Named after this process, so the sweep of abandoned working directories also takes it.
  const root = mkdtempSync(join(tmpdir(), `coderouter-${process.pid}-runners-`));
  process.once("exit", () => rmSync(root, { recursive: true, force: true }));
  const stat = lstatSync(root);
  if (!stat.isDirectory() || stat.uid !== process.getuid?.() || (stat.mode & 0o777) !== 0o700) {
    throw new InfrastructureError("subprocess", `${root} is not a private folder of this user (mode 0700); check TMPDIR`);
  }
  const dir = join(root, "runners");
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755); // whatever the umask
  for (const file of readdirSync(runnersDir).filter((f) => /\.(py|cjs|sh)$/.test(f))) {
    copyFileSync(join(runnersDir, file), join(dir, file));
    chmodSync(join(dir, file), 0o644);
  }
  // Bytecode compiled now: the sandbox's copy is read-only, so Python could not cache it there.
  spawnSync(pythonBin, ["-m", "py_compile", join(dir, "coderouter_runner.py")]);
  for (const entry of readdirSync(join(dir, "__pycache__"), { withFileTypes: true })) chmodSync(join(dir, "__pycache__", entry.name), 0o644);
  chmodSync(join(dir, "__pycache__"), 0o755);

  const built = spawnSync(pythonBin, ["-I", SECCOMP_SCRIPT], { encoding: "buffer", timeout: 15_000 });
  if (built.status !== 0 || !built.stdout?.length) {
    const why = built.error?.message ?? built.stderr?.toString().trim().split("\n").pop() ?? `exit status ${built.status}`;
    throw new SeccompUnavailableError(why);
  }
  const seccomp = join(root, "seccomp.bpf");
  writeFileSync(seccomp, built.stdout, { mode: 0o600 });
  chmodSync(root, 0o711);
  return { dir, seccomp };
}
