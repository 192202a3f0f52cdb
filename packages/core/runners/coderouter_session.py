"""A long-lived Python for one coderouter session: variables, imports and definitions persist
between executions, and the session's files live in its working directory.

It speaks the fork-server's protocol (see coderouter_forkserver.py) for {"run": payload}, running
the code in this process in the session's namespace, and answers {"files": {...}} and
{"environment": true} with {"reply": ...} or {"reply_error": {...}}. A timeout ends the whole
worker, and with it the session.
"""

import base64
import os
import shutil
import sys

import coderouter_runner as runner
from coderouter_runner import send

class PathError(ValueError):
    kind = "validation"


class MissingPath(PathError):
    kind = "not_found"


def confine(root, path, must_exist=False):
    """The absolute path of `path` inside `root`; absolute paths, `..` and symlinks leading out are refused."""
    if not isinstance(path, str) or path == "" or "\0" in path:
        raise PathError("the path must be a non-empty string")
    if os.path.isabs(path):
        raise PathError(f"{path} is absolute: paths are relative to the session's working directory")
    full = os.path.normpath(os.path.join(root, path))
    if full != root and not full.startswith(root + os.sep):
        raise PathError(f"{path} leads outside the session's working directory")
    real_root = os.path.realpath(root)
    probe = full if os.path.lexists(full) else os.path.dirname(full)
    real = os.path.realpath(probe)
    if real != real_root and not real.startswith(real_root + os.sep):
        raise PathError(f"{path} resolves, through a symlink, outside the session's working directory")
    if must_exist and not os.path.lexists(full):
        raise MissingPath(f"{path} does not exist")
    return full


def unwritable(exc):
    import errno

    if exc.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
        return "the session's workspace is full (it holds SUBPROCESS_SANDBOX_DISK_MB)"
    return exc.strerror or str(exc)


def files(root, request):
    op = request.get("op")
    path = request.get("path", ".")
    if op == "write":
        full = confine(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        try:
            with open(full, "wb") as handle:
                handle.write(base64.b64decode(request["data"]))
        except OSError as exc:
            # Nothing half-written stays: a file the workspace could not hold is not there at all.
            try:
                os.unlink(full)
            except OSError:
                pass
            raise PathError(f"{path} was not written: {unwritable(exc)}") from None
        return {"path": path, "size": os.path.getsize(full)}
    if op == "read":
        full = confine(root, path, must_exist=True)
        if os.path.isdir(full):
            raise PathError(f"{path} is a directory")
        with open(full, "rb") as handle:
            return {"path": path, "data": base64.b64encode(handle.read()).decode()}
    if op == "list":
        full = confine(root, path, must_exist=True) if path not in (".", "") else root
        entries = []
        for entry in sorted(os.scandir(full), key=lambda e: e.name):
            kind = "directory" if entry.is_dir(follow_symlinks=False) else "file"
            size = entry.stat(follow_symlinks=False).st_size if kind == "file" else 0
            entries.append({"name": entry.name, "path": os.path.relpath(entry.path, root), "type": kind, "size": size})
        return {"path": path, "entries": entries}
    if op == "remove":
        full = confine(root, path, must_exist=True)
        if full == root:
            raise PathError("the working directory itself cannot be removed")
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)
        return {"path": path, "removed": True}
    raise PathError(f"unknown files operation {op!r}")


def end_processes():
    """Nothing an execution started outlives it: as pid 1 of the worker's PID namespace, kill every
    other process in it (setsid daemons and double forks included) and reap them."""
    if os.getpid() != 1:
        return
    import signal

    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                return
        except ChildProcessError:
            return


def environment():
    import platform
    from importlib import metadata

    packages = sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]})
    return {
        "language": "python",
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "cwd": os.getcwd(),
        "packages": packages,
    }


def main():
    runner.die_with_parent()
    runner.close_inherited()
    loads, dumps = runner.json_codec()
    root = os.path.realpath(os.getcwd())
    scope = None
    pending = b""
    send(dumps, {"ready": True})
    while True:
        line, pending = runner.next_request(pending)
        if line is None:
            return
        request = loads(line.decode())
        if "run" in request:
            payload = request["run"]
            if scope is None:
                scope = runner.make_globals({})
                runner.apply_limits(payload, cpu=False)
            result = runner.run(payload["code"], payload["inputs"], scope)
            runner.flush()
            end_processes()
            send(dumps, {"result": result})
            runner.end_output(dumps)
        else:
            try:
                reply = files(root, request["files"]) if "files" in request else environment()
                send(dumps, {"reply": reply})
            except (PathError, OSError) as exc:
                send(dumps, {"reply_error": {"kind": getattr(exc, "kind", "validation"), "message": str(exc)}})
