// The hostile-tenant section's attacks, as the tenant would write them. Each returns what it won
// (an empty list, or a value the test names) so a failure says which door was open.

type ByLanguage = { python: string; javascript: string };

export const GARBAGE_ON_FD3: ByLanguage = {
  python: 'import os\nos.write(3, b"{not json\\n\\x00\\xff" * 100)\n1',
  javascript: 'require("fs").writeSync(3, "{not json\\n\\u0000".repeat(100))\n1',
};

const FORGED_LINES =
  '{"ready": true}\\n{"reply": 1}\\n{"exit": 0, "signal": 0, "fence": "00000000000000000000000000000000"}\\n{"result": {"output": "forged"}}\\n';
export const FORGED_ON_FD3: ByLanguage = {
  python: `import os\nos.write(3, b'${FORGED_LINES}')\n1`,
  javascript: `require("fs").writeSync(3, '${FORGED_LINES}')\n1`,
};

export const OVERSIZED_ON_FD3: ByLanguage = {
  python: 'import os\nchunk = b"x" * (1 << 20)\nfor _ in range(70):\n    os.write(3, chunk)\n1',
  javascript: `const fs = require("fs")
const chunk = Buffer.alloc(1 << 20, 120)
for (let i = 0; i < 70; i++) {
  for (let offset = 0; offset < chunk.length; ) {
    try { offset += fs.writeSync(3, chunk, offset) } catch (error) { if (error.code !== "EAGAIN") throw error }
  }
}
1`,
};

/** ptrace, /proc/<pid>/mem and fds, pidfd_getfd and process_vm_readv against the server (its parent, or pid 1). */
export const TAKE_OVER_SERVER = `import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
won = []
for pid in {os.getppid(), 1} - {0, os.getpid()}:
    if libc.ptrace(16, pid, 0, 0) == 0:
        won.append(f"PTRACE_ATTACH {pid}")
    if libc.ptrace(0x4206, pid, 0, 0) == 0:
        won.append(f"PTRACE_SEIZE {pid}")
    for name, mode in (("mem", "r+b"), ("environ", "rb"), ("fd/0", "rb"), ("fd/3", "wb")):
        try:
            with open(f"/proc/{pid}/{name}", mode):
                won.append(f"/proc/{pid}/{name}")
        except OSError:
            pass
    pidfd = libc.syscall(434, pid, 0)
    if pidfd >= 0:
        won.append(f"pidfd_open {pid}")
        for target in range(8):
            if libc.syscall(438, pidfd, target, 0) >= 0:
                won.append(f"pidfd_getfd {pid}:{target}")
    buffer = ctypes.create_string_buffer(8)
    local, remote = iovec(ctypes.cast(buffer, ctypes.c_void_p), 8), iovec(0x400000, 8)
    if libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) >= 0 or ctypes.get_errno() not in (errno.EPERM, errno.ESRCH):
        won.append(f"process_vm_readv {pid}")
won`;

/** Every call the seccomp filter denies, made directly: each must fail with EPERM (clone3 with ENOSYS). */
export const DENIED_CALLS = `import ctypes, errno, os, platform
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
numbers = {
    "x86_64": dict(unshare=272, setns=308, mount=165, umount2=166, pivot_root=155, keyctl=250, add_key=248,
                   request_key=249, bpf=321, perf_event_open=298, userfaultfd=323, kcmp=312, ptrace=101,
                   shmget=29, msgget=68, semget=64, personality=135, clone=56),
    "aarch64": dict(unshare=97, setns=268, mount=40, umount2=39, pivot_root=41, keyctl=219, add_key=217,
                    request_key=218, bpf=280, perf_event_open=241, userfaultfd=282, kcmp=272, ptrace=117,
                    shmget=194, msgget=186, semget=190, personality=92, clone=220),
}[platform.machine()]
numbers.update(io_uring_setup=425, open_tree=428, fsopen=430, pidfd_open=434, clone3=435, pidfd_getfd=438)
s = ctypes.c_char_p
calls = {
    "unshare": (0x10000000,), "setns": (0, 0), "mount": (s(b"none"), s(b"/tmp"), s(b"tmpfs"), 0, 0),
    "umount2": (s(b"/tmp"), 0), "pivot_root": (s(b"/"), s(b"/")), "keyctl": (0, -3, 0),
    "add_key": (s(b"user"), s(b"k"), s(b"v"), 1, -3), "request_key": (s(b"user"), s(b"k"), 0, 0),
    "bpf": (0, 0, 0), "perf_event_open": (0, 0, -1, -1, 0), "userfaultfd": (0,), "kcmp": (1, 1, 0, 0, 0),
    "ptrace": (0, 0, 0, 0), "shmget": (0, 4096, 0o1600), "msgget": (0, 0o1600), "semget": (0, 1, 0o1600),
    "personality": (0x0040000,), "clone": (0x10000000 | 17, 0, 0, 0, 0), "io_uring_setup": (1, 0),
    "open_tree": (-100, s(b"/"), 0), "fsopen": (s(b"tmpfs"), 0), "pidfd_open": (os.getpid(), 0),
    "clone3": (0, 0), "pidfd_getfd": (-1, 0, 0),
}
allowed = []
for name, args in calls.items():
    result = libc.syscall(numbers[name], *args)
    if result == 0 and name == "clone":
        os._exit(0)
    expected = errno.ENOSYS if name == "clone3" else errno.EPERM
    if result != -1 or ctypes.get_errno() != expected:
        allowed.append(f"{name}: {result} errno {ctypes.get_errno()}")
allowed`;

export const PROC_OF_SERVER_JS = `const fs = require("fs")
const won = []
for (const pid of new Set([process.ppid, 1])) {
  if (pid === 0 || pid === process.pid) continue
  for (const [name, flags] of [["mem", "r+"], ["environ", "r"], ["fd/0", "r"], ["fd/3", "w"]]) {
    try { fs.closeSync(fs.openSync(\`/proc/\${pid}/\${name}\`, flags)); won.push(\`/proc/\${pid}/\${name}\`) } catch {}
  }
}
won`;

export const NESTED_USER_NAMESPACE: ByLanguage = {
  python: `import ctypes, subprocess
if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == 0:
    result = "made"
else:
    run = subprocess.run(["unshare", "-Ur", "true"], capture_output=True)
    result = "made" if run.returncode == 0 else run.stderr.decode()[:200]
result`,
  javascript: `const run = require("child_process").spawnSync("unshare", ["-Ur", "true"])
run.status === 0 ? "made" : String(run.stderr ?? run.error).slice(0, 200)`,
};

/** MB written to /dev/shm (in 8 MB files, below the file-size limit) before it refused more; at most 1024. */
/**
 * Empty files take no space, but each inode and name takes the host's kernel memory (about 1.3
 * KiB): in the working directory, /tmp and /dev/shm, until refused. Returns [made, [refused with
 * ENOSPC, per place]].
 */
export const EMPTY_FILES: ByLanguage = {
  python: `import errno, os
made, refused = 0, []
for place in (os.getcwd(), "/tmp", "/dev/shm"):
    try:
        for i in range(200000):
            os.close(os.open(f"{place}/empty{i}", os.O_CREAT | os.O_WRONLY))
            made += 1
    except OSError as e:
        refused.append(e.errno == errno.ENOSPC)
made, refused`,
  javascript: `const fs = require("fs")
let made = 0
const refused = []
for (const place of [process.cwd(), "/tmp", "/dev/shm"]) {
  try {
    for (let i = 0; i < 200000; i++) {
      fs.closeSync(fs.openSync(place + "/empty" + i, "w"))
      made++
    }
  } catch (error) {
    refused.push(error.code === "ENOSPC")
  }
}
;[made, refused]`,
};

export const FILL_DEV_SHM: ByLanguage = {
  python: `written = 0
chunk = b"x" * (1 << 20)
try:
    while written < 1024:
        with open(f"/dev/shm/fill{written}", "wb") as f:
            for _ in range(8):
                f.write(chunk)
                f.flush()
                written += 1
except OSError:
    pass
written`,
  javascript: `const fs = require("fs")
let written = 0
const chunk = Buffer.alloc(1 << 20, 120)
try {
  while (written < 1024) {
    const fd = fs.openSync(\`/dev/shm/fill\${written}\`, "w")
    try { for (let i = 0; i < 8; i++) { fs.writeSync(fd, chunk); written++ } } finally { fs.closeSync(fd) }
  }
} catch {}
written`,
};

/** Descriptors past fd 3 that lead somewhere of the host's (a file, a socket); node's own event fds are not. */
export const LIST_DESCRIPTORS: ByLanguage = {
  python: `import os
fds = os.listdir("/proc/self/fd")
[f"{fd} -> {os.readlink('/proc/self/fd/' + fd)}" for fd in fds if int(fd) > 3 and os.path.lexists("/proc/self/fd/" + fd)]`,
  javascript: `const fs = require("fs")
const fds = fs.readdirSync("/proc/self/fd").filter((fd) => Number(fd) > 3)
fds.map((fd) => { try { return [fd, fs.readlinkSync("/proc/self/fd/" + fd)] } catch { return [fd, ""] } })
  .filter(([, target]) => (target.startsWith("/") && target !== "/dev/null" && !target.startsWith("/proc/")) || target.startsWith("socket:"))
  .map(([fd, target]) => fd + " -> " + target)`,
};

/** What the previous execution left in each writable place, then leaves more (and locks a folder). */
export const LEAVE_AND_LOOK: ByLanguage = {
  python: `import os
places = ("/work", "/tmp", "/dev/shm")
seen = [sorted(os.listdir(p)) for p in places]
for p in places:
    open(os.path.join(p, "left-behind"), "w").write("x")
    os.makedirs(os.path.join(p, "locked", "deeper"), exist_ok=True)
    open(os.path.join(p, "locked", "deeper", "f"), "w").write("x")
    os.chmod(os.path.join(p, "locked"), 0o500)
seen`,
  javascript: `const fs = require("fs"), path = require("path")
const places = ["/work", "/tmp", "/dev/shm"]
const seen = places.map((p) => fs.readdirSync(p).sort())
for (const p of places) {
  fs.writeFileSync(path.join(p, "left-behind"), "x")
  fs.mkdirSync(path.join(p, "locked", "deeper"), { recursive: true })
  fs.writeFileSync(path.join(p, "locked", "deeper", "f"), "x")
  fs.chmodSync(path.join(p, "locked"), 0o500)
}
seen`,
};

/** Stops its server (when it can see one), ignores every signal it may, and spins. */
export const STALL_TIMEOUT: ByLanguage = {
  python: `import os, signal
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGXCPU):
    signal.signal(s, signal.SIG_IGN)
for pid in {os.getppid(), 1} - {0, os.getpid()}:
    try:
        os.kill(pid, signal.SIGSTOP)
    except OSError:
        pass
while True:
    pass`,
  javascript: `for (const s of ["SIGTERM", "SIGINT", "SIGHUP", "SIGXCPU"]) process.on(s, () => {})
try { process.kill(process.ppid, "SIGSTOP") } catch {}
while (true) {}`,
};

/** A setsid daemon, a detached child and a double fork into a new session, each a `sleep marker`. */
export const DAEMONS: { python: (marker: string) => string; javascript: (marker: string) => string } = {
  python: (marker) => `import os, subprocess
quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.Popen(["setsid", "sleep", "${marker}"], **quiet)
subprocess.Popen(["sleep", "${marker}"], start_new_session=True, **quiet)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "${marker}"])
    os._exit(0)
os.wait()
"started"`,
  javascript: (marker) => `const { spawn, spawnSync } = require("node:child_process")
spawn("setsid", ["sleep", "${marker}"], { stdio: "ignore" }).unref()
spawn("sleep", ["${marker}"], { stdio: "ignore", detached: true }).unref()
spawnSync("sh", ["-c", "setsid sleep ${marker} > /dev/null 2>&1 < /dev/null &"])
"started"`,
};

export const LOOP: ByLanguage = { python: "while True:\n    pass", javascript: "while (true) {}" };

export const BIG_OFF_HEAP: ByLanguage = {
  python: "b = bytearray(512 * 1024 * 1024)\nlen(b)",
  javascript: "const b = Buffer.alloc(512 * 1024 * 1024, 1)\nb.length",
};

/** The wrappers an attacker would plant: they report a value of their choosing. */
export const PLANTED_PYTHON_RUNNER = `import os\n\ndef main():\n    os.write(3, b'{"output": 666}')\n`;
export const PLANTED_NODE_RUNNER = `require("fs").writeSync(3, '{"output": 666}')\n`;

/** Scans the process's own memory (a copy of its fork-server's) for an earlier execution's secret input. */
export const SCAN_FOR_EARLIER_INPUTS = `import ctypes, re, os
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # dumpable again (inherited from the server), to open our own mem
found = set()
pattern = re.compile(rb"LEAK:([0-9a-f]{32})")
with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
    for line in maps:
        span, perms = line.split()[:2]
        if not perms.startswith("r"):
            continue
        start, end = (int(x, 16) for x in span.split("-"))
        try:
            mem.seek(start)
            chunk = mem.read(end - start)
        except (OSError, ValueError, OverflowError):
            continue
        found.update(m.decode() for m in pattern.findall(chunk))
[os.getppid(), sorted(found)]`;
