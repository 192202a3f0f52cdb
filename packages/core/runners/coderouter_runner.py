"""Runs one Python snippet for coderouter and reports its result as JSON.

Started as `python -I -c "<bootstrap>"` importing this module, not as a script: an imported
module's bytecode is cached in __pycache__, a script is recompiled on every start (~1 ms).

Protocol: the payload {"code", "inputs", "memoryMb"} arrives as JSON on stdin; the result
{"output"} or {"error": {kind, name, message, traceback}} is written to file descriptor 3, so
whatever the code prints on stdout and stderr stays the user's own.

The code is compiled from its own text under the name main.py (never spliced into this file), so
tracebacks carry the user's line numbers. Imports are kept to builtins and modules the interpreter
has already loaded at start-up: each import here is paid on every cold start.
"""

import sys
import os

FILENAME = "main.py"
RESULT_FD = 3
SOURCE = [""]  # the code being run, for tracebacks to quote
CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect


def json_codec():
    """(loads, dumps) on the C accelerator directly.

    `import json` costs ~5 ms because json.decoder imports `re`, which doubles the overhead of a cold
    run; the C scanner and encoder underneath it need neither. Falls back to the json module on an
    interpreter whose accelerator differs.
    """
    try:
        import _json

        class Context:
            strict = True
            object_hook = object_pairs_hook = parse_constant = None
            parse_float = float
            parse_int = int
            memo = {}

        scan = _json.make_scanner(Context())
        encode = _json.make_encoder(
            None, None, _json.encode_basestring_ascii, None, ":", ",", False, False, False
        )
        return (lambda text: scan(text, 0)[0]), (lambda value: "".join(encode(value, 0)))
    except (ImportError, AttributeError, TypeError):
        import json

        return json.loads, (lambda value: json.dumps(value, allow_nan=False))


class CircularOutputError(ValueError):
    pass


def to_output(value):
    """DESIGN.md's output rules, the Python twin of to-output.cjs."""
    ancestors = []

    def walk(v, path):
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return v if v == v and v not in (float("inf"), float("-inf")) else None
        if hasattr(v, "isoformat") and type(v).__module__ == "datetime":
            return v.isoformat()
        if isinstance(v, (dict, list, tuple, set, frozenset)):
            if any(a is v for a in ancestors):
                raise CircularOutputError(
                    "the output is circular: %s refers back to one of its parents" % path
                )
            ancestors.append(v)
            try:
                if isinstance(v, dict):
                    return {str(k): walk(x, "%s.%s" % (path, k)) for k, x in v.items()}
                return [walk(x, "%s[%d]" % (path, i)) for i, x in enumerate(v)]
            finally:
                ancestors.pop()
        if callable(v):
            return None
        # numpy arrays and scalars, and anything else that knows its plain-data form.
        tolist = getattr(v, "tolist", None)
        if callable(tolist):
            return walk(tolist(), path)
        return str(v)

    return walk(value, "$")


def user_traceback(exc):
    """The traceback without this runner's frames: what the user's code did, in their line numbers."""
    import linecache
    import traceback

    linecache.cache[FILENAME] = (len(SOURCE[0]), None, SOURCE[0].splitlines(True), FILENAME)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def error_result(kind, exc, traceback_text=None):
    return {
        "error": {
            "kind": kind,
            "name": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback_text if traceback_text is not None else user_traceback(exc),
        }
    }


def syntax_result(exc):
    import traceback

    text = "".join(traceback.format_exception_only(type(exc), exc))
    line = getattr(exc, "lineno", None)
    message = getattr(exc, "msg", None) or str(exc)
    if line:
        message = "%s (%s, line %d)" % (message, FILENAME, line)
    return {"error": {"kind": "syntax", "name": type(exc).__name__, "message": message, "traceback": text}}


def make_globals(inputs, scope=None):
    import keyword

    if scope is None:
        scope = {"__name__": "__main__", "__builtins__": __builtins__}
    scope["inputs"] = inputs
    for key, value in inputs.items():
        if key.isidentifier() and not keyword.iskeyword(key):
            scope[key] = value
    return scope


def run(code, inputs, scope=None):
    """Runs the code; returns the result dict. Never raises for a failure of the user's code.

    `scope` is a session's namespace, kept between runs; without one every run starts empty.
    """
    SOURCE[0] = code
    import _ast

    top_level_await = 0x2000  # ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, without importing ast
    try:
        tree = compile(code, FILENAME, "exec", _ast.PyCF_ONLY_AST | top_level_await)
    except (SyntaxError, ValueError) as exc:
        return syntax_result(exc if isinstance(exc, SyntaxError) else SyntaxError(str(exc)))
    last = None
    if tree.body and isinstance(tree.body[-1], _ast.Expr):
        last = _ast.Expression(tree.body.pop().value)
    scope = make_globals(inputs, scope)
    try:
        body = compile(tree, FILENAME, "exec", top_level_await)
        tail = compile(last, FILENAME, "eval", top_level_await) if last is not None else None
        if (body.co_flags | (tail.co_flags if tail else 0)) & CO_COROUTINE:
            value = run_async(body, tail, scope)
        else:
            eval(body, scope)
            value = eval(tail, scope) if tail else None
        return {"output": to_output(value)}
    except CircularOutputError as exc:
        return error_result("runtime", exc, "")
    except MemoryError as exc:
        return error_result("memory", exc)
    except SystemExit as exc:
        if exc.code in (None, 0):
            return {"output": None}
        return {
            "error": {
                "kind": "runtime",
                "name": "SystemExit",
                "message": "the code exited with status %s" % (exc.code,),
                "traceback": user_traceback(exc),
            }
        }
    except BaseException as exc:  # noqa: BLE001 - every failure of user code becomes a result
        return error_result("runtime", exc)


def run_async(body, tail, scope):
    """Top-level await: the compiled module becomes a coroutine that asyncio runs to the end."""
    import asyncio

    async def main():
        pending = eval(body, scope)
        if body.co_flags & CO_COROUTINE:
            await pending
        if tail is None:
            return None
        value = eval(tail, scope)
        return (await value) if tail.co_flags & CO_COROUTINE else value

    return asyncio.run(main())


def write_result(result, dumps, fd):
    try:
        data = dumps(result).encode()
    except (TypeError, ValueError) as exc:
        data = dumps(error_result("runtime", exc, "")).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def apply_limits(payload, cpu=True):
    """The memory limit, and a CPU-time backstop just past the timeout: the host enforces the
    timeout, but a child whose host was killed must still not spin forever."""
    import resource

    limit = payload.get("memoryMb")
    if limit:
        size = int(limit) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    timeout = payload.get("timeoutMs")
    if cpu and timeout:
        seconds = int(timeout) // 1000 + 2
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))


def flush():
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - a closed stream must not lose the result
        pass


def execute(payload, dumps, result_fd):
    """Runs one payload in this process, writes its result to `result_fd`, and ends the process."""
    apply_limits(payload)
    result = run(payload["code"], payload["inputs"])
    flush()
    write_result(result, dumps, result_fd)
    # Exit at once: threads the code left running must not hold the execution open.
    os._exit(0)


# The protocol of long-lived workers (fork-server, sessions): requests as JSON lines on stdin,
# messages as JSON lines on fd 3, and a fence after each execution's output.
CONTROL_FD = 3


def send(dumps, message):
    data = memoryview((dumps(message) + "\n").encode())
    while data:
        data = data[os.write(CONTROL_FD, data):]


_libc = None


def prctl(option, value):
    """Linux's prctl through ctypes, loaded once per worker (a few milliseconds); forked children
    call the loaded function again, in microseconds."""
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc.prctl(option, value, 0, 0, 0)


PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4


def die_with_parent():
    """Long-lived workers end with the host, even when it is killed without a chance to clean up."""
    try:
        import signal

        parent = os.getppid()
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
        # The host may have gone between our start and the prctl call.
        if os.getppid() != parent:
            os._exit(1)
    except (OSError, AttributeError):
        pass


def close_inherited():
    """Only stdin, stdout, stderr and fd 3 stay open: nothing else the host or a server held."""
    os.closerange(4, os.sysconf("SC_OPEN_MAX"))


def next_request(pending):
    """(line, rest) of the next request line, reading stdin as needed; (None, b"") at end of input."""
    while b"\n" not in pending:
        chunk = os.read(0, 65536)
        if not chunk:
            return None, b""
        pending += chunk
    line, rest = pending.split(b"\n", 1)
    return line, rest


def end_output(dumps, exit_code=0, signal_number=0):
    """Marks the end of an execution's output with a fence drawn now, after the code has finished."""
    fence = os.urandom(16).hex()
    send(dumps, {"exit": exit_code, "signal": signal_number, "fence": fence})
    os.write(1, fence.encode())
    os.write(2, fence.encode())


def main():
    close_inherited()
    loads, dumps = json_codec()
    payload = loads(sys.stdin.buffer.read().decode())
    sys.stdin.close()
    execute(payload, dumps, RESULT_FD)
