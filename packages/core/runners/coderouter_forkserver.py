"""A warm Python that forks one fresh child per execution, for coderouter.

The server has imported the runner and the commonly used standard library once; each child is a
fresh process (fork), so executions share no state, yet skip the interpreter's start-up.

One execution at a time. Protocol, one JSON object per line:
  stdin  (host -> server): {"run": payload, "env": {...}}
  fd 3   (server -> host): {"ready": true} once, then per execution {"result": ...} (the child's,
         forwarded) and {"exit": code, "signal": n, "fence": token}.
After a child ends, the server writes the fence token to its stdout and stderr: the host knows the
child's output is complete when it has read the token on both. The token is drawn after the child
is gone, so code can neither forge the end of its output nor any control message (the child has
neither fd 3 nor stdin).
"""

import os
import select
import signal
import sys

import coderouter_runner as runner
from coderouter_runner import send

PRELOAD = (
    "asyncio", "base64", "collections", "csv", "dataclasses", "datetime", "decimal", "functools",
    "hashlib", "io", "itertools", "json", "keyword", "linecache", "math", "random", "re",
    "statistics", "string", "textwrap", "time", "traceback", "typing", "uuid",
)


def child(payload, env, workdir, result_w, dumps):
    os.setsid()
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
    os.environ.clear()
    os.environ.update(env)
    os.environ.update({"HOME": workdir, "TMPDIR": workdir})
    runner.execute(payload, dumps, runner.CONTROL_FD)


MAX_RESULT_BYTES = 64 * 1024 * 1024


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def forwarded(chunks, size, scan):
    """The child's result as the host will check it. The code can write to the child's result pipe,
    so garbage is passed on as a value the host refuses (it then replaces this server), never raised here."""
    if size > MAX_RESULT_BYTES:
        return "oversized"
    try:
        text = b"".join(chunks).decode()
        value, end = scan(text)
        # One JSON value and nothing after it: the C scanner alone would stop at the first value.
        return value if not text[end:].strip() else "garbled"
    except Exception:  # noqa: BLE001 - whatever the code wrote, the server goes on
        return "garbled"


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
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    import tempfile

    loads, dumps = runner.json_codec()
    scan = runner.json_scanner()
    # Inside the sandbox the wrappers are mounted at /coderouter, and the sandbox is ours alone.
    sandboxed = runner.__file__.startswith("/coderouter/")
    if sandboxed:
        SCRATCH_MODES.update({place: os.stat(place).st_mode & 0o7777 for place in SCRATCH})
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    pending = b""
    send(dumps, {"ready": True})
    while True:
        line, pending = runner.next_request(pending)
        if line is None:
            return
        try:
            request = loads(line.decode())
        except Exception:  # noqa: BLE001 - the host refuses what cannot be decoded; never die of it
            continue
        if "run" not in request:
            continue
        # Named after the host, so a host that died without cleaning up can be swept after.
        workdir = "/work" if sandboxed else tempfile.mkdtemp(prefix=f"coderouter-{os.getppid()}-")
        result_r, result_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(result_r)
            child(request["run"], request.get("env", {}), workdir, result_w, dumps)
        os.close(result_w)
        result = []
        size = 0
        status = None
        watching = [0, wake_r, result_r]
        while status is None:
            readable, _, _ = select.select(watching, [], [])
            if result_r in readable:
                data = os.read(result_r, 65536)
                if data:
                    result.append(data)
                    size += len(data)
                    if size > MAX_RESULT_BYTES:
                        kill_group(pid)
                        watching.remove(result_r)
                else:
                    watching.remove(result_r)
            if 0 in readable:
                chunk = os.read(0, 65536)
                if not chunk:
                    os.killpg(pid, signal.SIGKILL)
                    return
                # The next request waits: the host sends none while an execution runs, and ends
                # an execution by killing this server whole, never by asking it.
                pending += chunk
            if wake_r in readable:
                os.read(wake_r, 4096)
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status = code
        if result_r in watching:
            os.set_blocking(result_r, False)
            try:
                while size <= MAX_RESULT_BYTES:
                    data = os.read(result_r, 65536)
                    if not data:
                        break
                    result.append(data)
                    size += len(data)
            except BlockingIOError:
                pass
        os.close(result_r)
        clean_up(pid, workdir, sandboxed)
        if result:
            send(dumps, {"result": forwarded(result, size, scan)})
        exit_code = os.waitstatus_to_exitcode(status)
        runner.end_output(dumps, max(exit_code, 0), max(-exit_code, 0))
