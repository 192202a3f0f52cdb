"""A warm Python that forks one fresh child per execution, for coderouter.

The server has imported the runner and the commonly used standard library once; each child is a
fresh process (fork), so executions share no state, yet skip the interpreter's start-up.

One execution at a time. Protocol, one JSON object per line:
  stdin  (host -> server): {"run": payload, "env": {...}}
  fd 3   (server -> host): {"ready": true} once, then per execution {"result": ...} (the child's,
         forwarded) and {"exit": code, "signal": n, "fence": token}.
After a child ends, the server writes the fence token to its stdout and stderr: the host knows the
child's output is complete when it has read the token on both. The token is drawn after the child
is gone, so code can neither forge the end of its output nor any control message: the child's
fd 3 is its own result pipe, read by this server, and its stdin is /dev/null. What it writes there
is untrusted, and so checked by the host (see forward()).
"""

import gc
import os
import select
import signal
import sys

import coderouter_runner as runner
from coderouter_runner import send

# What every child runs (_ast, keyword, linecache, resource: a load per child otherwise) and the
# standard library snippets most often import. Every page of this server's heap costs each fork a
# page-table entry and, once written, a copy-on-write fault (~20 µs on the VMs measured), so
# modules that fork pays for twice wait until a request uses them (WARMABLE): asyncio (9 MB, and
# `threading`, whose at-fork hook writes ~110 pages in every child), random and statistics
# (random's at-fork reseed, ~45 pages).
PRELOAD = (
    "_ast", "base64", "collections", "csv", "dataclasses", "datetime", "decimal", "functools",
    "hashlib", "io", "itertools", "json", "keyword", "linecache", "math", "re", "resource",
    "shutil", "string", "textwrap", "time", "traceback", "typing", "uuid",
)


def child(payload, env, workdir, result_w, dumps):
    os.setsid()
    if os.getppid() != 1:
        # As pid 1 of its namespace, this server takes every child with it when it dies.
        runner.die_with_parent()
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # The result pipe takes fd 3, in place of the server's control channel; every other
    # descriptor of the server (its wake-up pipe, the result pipe's first number) is closed.
    os.dup2(result_w, runner.CONTROL_FD)
    runner.close_inherited()
    os.chdir(workdir)
    # The sandboxed server already has the usual environment (set once at its start): rewriting
    # os.environ costs a child ~100 copy-on-write faults.
    if env != SERVER_ENV or workdir != os.environ.get("HOME"):
        os.environ.clear()
        os.environ.update(env)
        os.environ.update({"HOME": workdir, "TMPDIR": workdir})
    runner.execute(payload, dumps, runner.CONTROL_FD)


SERVER_ENV = {}


MAX_RESULT_BYTES = 64 * 1024 * 1024

# Left out of PRELOAD, taken in once a request uses them (the host says so, see warm_requested()).
WARMABLE = ("asyncio", "random", "statistics")
WARM_PREFIX = b'{"warm":"'


def take_in(names):
    """Imports what this interpreter has of `names` into the server, for every later child."""
    for name in names:
        try:
            __import__(name)
        except ImportError:
            pass


def warm_requested(request, end):
    """The modules the host asks this server to take in after the execution: a prefix of the line
    that the host wrote ahead of the request, read without decoding the tenant's bytes after it."""
    if not request.data.startswith(WARM_PREFIX):
        return ()
    close = request.data.find(b'"', len(WARM_PREFIX), end)
    if close == -1:
        return ()
    names = bytes(request.view(close)[len(WARM_PREFIX) :]).decode("ascii", "replace").split(",")
    return [name for name in names if name in WARMABLE]


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


class TenantBytes:
    """A request or a result on its way through the server, held in one bytearray.

    Every child is forked with a copy of this server's memory. Tenant bytes are therefore never
    turned into bytes or str objects here, whose freed memory a later child could scan for an
    earlier execution's code, inputs or result: they are read straight into this buffer, decoded
    only in the child they belong to, forwarded to the host as they are, and zeroed once used.
    """

    def __init__(self):
        self.data = bytearray(1 << 16)
        self.filled = 0

    def read_from(self, fd):
        """Reads what `fd` has into the buffer, growing it as needed; 0 at the end of input."""
        if self.filled == len(self.data):
            bigger = bytearray(2 * len(self.data))
            bigger[: self.filled] = memoryview(self.data)[: self.filled]
            self.data[:] = bytes(len(self.data))
            self.data = bigger
        count = os.readv(fd, [memoryview(self.data)[self.filled :]])
        self.filled += count
        return count

    def line_end(self):
        return self.data.find(b"\n", 0, self.filled)

    def view(self, end):
        return memoryview(self.data)[:end]

    def wipe(self):
        self.data[: self.filled] = bytes(self.filled)
        self.filled = 0


def forward(result, dumps):
    """Passes the child's result to the host as it came, framed as one control line. The code can
    write to the child's result pipe: what cannot be one line is replaced by a value the host
    refuses (it then replaces this server); the host checks everything else."""
    if not result.filled:
        return
    if result.filled > MAX_RESULT_BYTES or result.line_end() != -1:
        send(dumps, {"result": "oversized" if result.filled > MAX_RESULT_BYTES else "garbled"})
    else:
        message = [b'{"result": ', result.view(result.filled), b"}\n"]
        while message:
            written = os.writev(runner.CONTROL_FD, message)
            while message and written >= len(message[0]):
                written -= len(message[0])
                message.pop(0)
            if message and written:
                message[0] = memoryview(message[0])[written:]
    result.wipe()


PR_SET_CHILD_SUBREAPER = 36


def kill_adopted():
    """Without a PID namespace, this server is a subreaper: what its executions left (a setsid
    daemon, a double fork) was adopted by it, and is killed here until none is left."""
    while True:
        children = []
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/children") as handle:
                    children += [int(pid) for pid in handle.read().split()]
            except OSError:
                pass
        if not children:
            return
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass
        for child in children:
            try:
                os.waitpid(child, 0)
            except ChildProcessError:
                pass


# Every place a sandboxed execution can write. Emptied after each one, whatever it left there.
SCRATCH = ("/work", "/tmp", "/dev/shm")


def clean_up(pid, workdir, sandboxed):
    kill_group(pid)
    if os.getpid() == 1:
        # As pid 1 of our own PID namespace (the sandbox's, or the one a plain server runs in),
        # this reaches every process the execution left, however detached.
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    else:
        kill_adopted()
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break
    if sandboxed:
        for place, mode in SCRATCH_MODES.items():
            wipe(place, mode)
    else:
        wipe(workdir, None)


SCRATCH_MODES = {}


def wipe(place, mode):
    """Empties `place` (removes it when mode is None), whatever modes the code set inside it."""
    import shutil

    def unlock(remove, path, _exc):
        try:
            os.chmod(os.path.dirname(path), 0o700)
            remove(path)
        except OSError:
            pass

    if mode is None:
        shutil.rmtree(place, onerror=unlock)
        return
    try:
        os.chmod(place, 0o700)
        for entry in os.listdir(place):
            path = os.path.join(place, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, 0o700)
                shutil.rmtree(path, onerror=unlock)
            else:
                os.unlink(path)
        os.chmod(place, mode)
    except OSError:
        pass


def main():
    runner.die_with_parent()
    runner.close_inherited()
    # Not dumpable: a process of the same uid (an execution forked from here) can neither ptrace
    # this server nor open its /proc/<pid>/mem, fd or environ; its children inherit the flag.
    runner.prctl(runner.PR_SET_DUMPABLE, 0)
    if os.getpid() != 1:
        runner.prctl(PR_SET_CHILD_SUBREAPER, 1)
    take_in(PRELOAD)
    loads, dumps = runner.json_codec()
    # Inside the sandbox the wrappers are mounted at /coderouter, and the sandbox is ours alone.
    sandboxed = runner.__file__.startswith("/coderouter/")
    if sandboxed:
        SCRATCH_MODES.update({place: os.stat(place).st_mode & 0o7777 for place in SCRATCH})
        # The environment a request without variables of its own asks for, already in place.
        SERVER_ENV.update({k: v for k, v in os.environ.items() if k not in ("HOME", "TMPDIR")})
        os.environ.update({"HOME": "/work", "TMPDIR": "/work"})
    else:
        import tempfile
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    request = TenantBytes()
    result = TenantBytes()
    # Everything made so far stays out of the cyclic collector's sight: a collection in a child
    # would otherwise write to every object's header and copy every page of this server's heap
    # (a copy-on-write fault costs ~50 µs on the VMs this was measured on).
    gc.freeze()
    send(dumps, {"ready": True})
    while True:
        end = request.line_end()
        while end == -1:
            if not request.read_from(0):
                return
            end = request.line_end()
        warm = warm_requested(request, end)
        # Named after the host, so a host that died without cleaning up can be swept after.
        workdir = "/work" if sandboxed else tempfile.mkdtemp(prefix=f"coderouter-{os.getppid()}-")
        result_r, result_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(result_r)
            try:
                message = loads(request.view(end).tobytes().decode())
            except Exception:  # noqa: BLE001 - the host sends what it validated; a broken line ends only this child
                os._exit(70)
            child(message["run"], message.get("env", {}), workdir, result_w, dumps)
        os.close(result_w)
        request.wipe()
        status = None
        watching = [0, wake_r, result_r]
        while status is None:
            readable, _, _ = select.select(watching, [], [])
            if result_r in readable:
                if not result.read_from(result_r) or result.filled > MAX_RESULT_BYTES:
                    watching.remove(result_r)
                    if result.filled > MAX_RESULT_BYTES:
                        kill_group(pid)
            if 0 in readable:
                # The host sends nothing while an execution runs, and ends one by killing this
                # server whole, never by asking it: only the end of its input matters here.
                if not os.read(0, 65536):
                    kill_group(pid)
                    return
            if wake_r in readable:
                os.read(wake_r, 4096)
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status = code
        if result_r in watching:
            os.set_blocking(result_r, False)
            try:
                while result.filled <= MAX_RESULT_BYTES and result.read_from(result_r):
                    pass
            except BlockingIOError:
                pass
        os.close(result_r)
        clean_up(pid, workdir, sandboxed)
        forward(result, dumps)
        exit_code = os.waitstatus_to_exitcode(status)
        runner.end_output(dumps, max(exit_code, 0), max(-exit_code, 0))
        if warm:
            take_in(warm)
            gc.freeze()
