import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";

/** O_CLOEXEC as /proc/<pid>/fdinfo prints it (octal flags). */
const O_CLOEXEC = 0o2000000;

let inherited: number[] | undefined;

/**
 * The host's descriptors that a child would inherit: those without close-on-exec, which node never
 * opens but may have been given by whatever started the host (a supervisor, a shell's `3<secret`).
 * Found once: node and libuv open every descriptor of their own with O_CLOEXEC, so the set can only
 * shrink (a closed one then gets /dev/null in the child, harmlessly), and scanning /proc on every
 * spawn cost ~3.5 ms of the event loop per cold start.
 */
function inheritable(): number[] {
  inherited ??= scanInheritable();
  return inherited;
}

function scanInheritable(): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc/self/fd")) {
    const fd = Number(name);
    if (fd < 3) continue;
    try {
      const flags = /flags:\s*(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
      if (flags && !(parseInt(flags, 8) & O_CLOEXEC)) found.push(fd);
    } catch {
      // closed while we looked (it was readdir's own descriptor).
    }
  }
  return found;
}

type Stdio = ["pipe", "pipe", "pipe", "pipe", ...("ignore" | number)[]];

/**
 * The stdio a child is started with: stdin, stdout, stderr and the result channel (fd 3) as pipes,
 * `files` opened read-only as fds 4, 5, ..., and /dev/null over every other descriptor the host
 * would let it inherit, so none of the host's own reaches the code. `release` closes what was opened.
 */
export function childStdio(files: string[] = []): { stdio: Stdio; release: () => void } {
  const stdio: Stdio = ["pipe", "pipe", "pipe", "pipe"];
  const opened: number[] = [];
  try {
    for (const file of files) {
      const fd = openSync(file, "r");
      opened.push(fd);
      stdio.push(fd);
    }
    const leaked = inheritable().filter((fd) => fd >= stdio.length);
    if (leaked.length) {
      const devNull = openSync("/dev/null", "r");
      opened.push(devNull);
      for (const fd of leaked) {
        while (stdio.length < fd) stdio.push("ignore");
        stdio[fd] = devNull;
      }
    }
  } catch (error) {
    for (const fd of opened) closeSync(fd);
    throw error;
  }
  return { stdio, release: () => opened.forEach((fd) => closeSync(fd)) };
}
