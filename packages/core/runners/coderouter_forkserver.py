"""A warm Python that forks one fresh child per execution, for coderouter.

The server has imported the runner and the commonly used standard library once; each child is a
fresh process (fork), so executions share no state, yet skip the interpreter's start-up.

One execution at a time. Protocol, one JSON object per line:
  stdin  (host -> server): {"run": payload, "env": {...}} | {"kill": true}
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
    os.close(runner.CONTROL_FD)
    os.chdir(workdir)
    os.environ.clear()
    os.environ.update(env)
    os.environ.update({"HOME": workdir, "TMPDIR": workdir})
    runner.execute(payload, dumps, result_w)


def clean_up(pid, workdir, sandboxed):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    if sandboxed:
        # As the sandbox's pid 1, this reaches every process left in it, however detached.
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    break
            except ChildProcessError:
                break
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)
    if sandboxed:
        for entry in os.listdir("/tmp"):
            path = os.path.join("/tmp", entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass


def main():
    runner.die_with_parent()
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    import tempfile

    loads, dumps = runner.json_codec()
    sandboxed = os.getpid() == 1
    base = "/work" if sandboxed else tempfile.gettempdir()
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
        request = loads(line.decode())
        if "run" not in request:
            continue
        # Named after the host, so a host that died without cleaning up can be swept after.
        workdir = tempfile.mkdtemp(prefix=f"coderouter-{os.getppid()}-", dir=base)
        result_r, result_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(result_r)
            child(request["run"], request.get("env", {}), workdir, result_w, dumps)
        os.close(result_w)
        result = []
        status = None
        watching = [0, wake_r, result_r]
        while status is None:
            readable, _, _ = select.select(watching, [], [])
            if result_r in readable:
                data = os.read(result_r, 65536)
                if data:
                    result.append(data)
                else:
                    watching.remove(result_r)
            if 0 in readable:
                chunk = os.read(0, 65536)
                if not chunk:
                    os.killpg(pid, signal.SIGKILL)
                    return
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if loads(line.decode()).get("kill"):
                        try:
                            os.killpg(pid, signal.SIGKILL)
                        except OSError:
                            pass
            if wake_r in readable:
                os.read(wake_r, 4096)
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status = code
        if result_r in watching:
            os.set_blocking(result_r, False)
            try:
                while True:
                    data = os.read(result_r, 65536)
                    if not data:
                        break
                    result.append(data)
            except BlockingIOError:
                pass
        os.close(result_r)
        clean_up(pid, workdir, sandboxed)
        if result:
            send(dumps, {"result": loads(b"".join(result).decode())})
        exit_code = os.waitstatus_to_exitcode(status)
        runner.end_output(dumps, max(exit_code, 0), max(-exit_code, 0))
