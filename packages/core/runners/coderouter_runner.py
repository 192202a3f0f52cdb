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


# An integer travels as a JSON number only when the number reads back as the same digits (every
# integer up to 2**53, and round ones such as 10**20); any other as its decimal digits, a string, as
# a JavaScript BigInt does: 2**64 as a number would reach the host, and most JSON readers, as
# 18446744073709552000, and 10**400 as Infinity.
MAX_SAFE_INTEGER = 2**53 - 1
INFINITY = float("inf")


def as_number_or_digits(n):
    try:
        number = float(n)
    except OverflowError:
        return exact_digits(n)
    # repr is the shortest text that reads back as the double: the digits JavaScript prints too.
    mantissa = repr(number).partition("e")[0].lstrip("-").replace(".", "").rstrip("0")
    digits = exact_digits(n)
    return n if mantissa == digits.lstrip("-").rstrip("0") else digits


def exact_digits(n):
    """str(n), past the interpreter's 4300-digit guard (which exists against hostile *input*)."""
    try:
        return str(n)
    except ValueError:
        limit = sys.get_int_max_str_digits()
        sys.set_int_max_str_digits(0)
        try:
            return str(n)
        finally:
            sys.set_int_max_str_digits(limit)


class _Circular(Exception):
    """Raised where a container refers back to one of its parents; each container it passes on its
    way up adds the step that led into it, so the path is only spelled out when there is an error."""

    def __init__(self):
        super().__init__()
        self.steps = []


def to_output(value):
    """DESIGN.md's output rules, the Python twin of to-output.cjs."""
    # Linear in the size of the value: ids of the containers being walked, and no path string per
    # value (a 1,000-object result spent ~4 ms formatting paths no error would ever name).
    ancestors = set()

    def walk(v):
        kind = type(v)
        if kind is str or kind is bool or v is None:
            return v
        if kind is int or (isinstance(v, int) and not isinstance(v, bool)):
            return v if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER else as_number_or_digits(int(v))
        if isinstance(v, float):
            return v if v == v and v not in (INFINITY, -INFINITY) else None
        if isinstance(v, (dict, list, tuple, set, frozenset)):
            if id(v) in ancestors:
                raise _Circular()
            ancestors.add(id(v))
            key = None
            try:
                if isinstance(v, dict):
                    out = {}
                    for key, x in v.items():
                        out[str(key)] = walk(x)
                    return out
                out = []
                for key, x in enumerate(v):
                    out.append(walk(x))
                return out
            except _Circular as circular:
                circular.steps.append(".%s" % (key,) if isinstance(v, dict) else "[%d]" % key)
                raise
            finally:
                ancestors.discard(id(v))
        if isinstance(v, (bool, str)):
            return v
        if hasattr(v, "isoformat") and type(v).__module__ == "datetime":
            return v.isoformat()
        if callable(v):
            return None
        # numpy arrays and scalars, and anything else that knows its plain-data form.
        tolist = getattr(v, "tolist", None)
        if callable(tolist):
            return walk(tolist())
        return str(v)

    try:
        return walk(value)
    except _Circular as circular:
        path = "$" + "".join(reversed(circular.steps))
        raise CircularOutputError("the output is circular: %s refers back to one of its parents" % path) from None


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


def display_module():
    """coderouter_display, beside this file (the bootstrap took the runners' directory off sys.path)."""
    module = sys.modules.get("coderouter_display")
    if module is None:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        try:
            import coderouter_display as module
        finally:
            del sys.path[0]
    return module


def display(*values):
    """IPython's display(), as E2B's interpreter offers it; see coderouter_display."""
    display_module().display(*values)


def with_artifacts(result):
    """Figures and display() output as the result's artifacts (matplotlib non-interactive)."""
    if "coderouter_display" in sys.modules or "matplotlib.pyplot" in sys.modules:
        try:
            artifacts = display_module().collect()
        except Exception as exc:  # noqa: BLE001 - a figure that cannot render must not lose the result
            sys.stderr.write("coderouter: a display could not be rendered: %s\n" % exc)
            artifacts = []
        if artifacts:
            result["artifacts"] = artifacts
    return result


MAIN = [None]  # the __main__ module whose namespace the code runs in


def make_globals(inputs, scope=None):
    """The namespace of a new __main__ module, as `python3 main.py` would give the code.

    doctest, pickle and inspect find the code's functions and classes through sys.modules["__main__"],
    so the namespace must belong to a real module there, not to a plain dict.
    """
    import keyword

    if scope is None:
        import builtins

        module = type(sys)("__main__")
        module.__file__ = os.path.join(os.getcwd(), FILENAME)
        module.__builtins__ = builtins
        MAIN[0] = module
        scope = module.__dict__
    # Figures render off-screen (they come back as artifacts), and display() is at hand, as on E2B.
    os.environ.setdefault("MPLBACKEND", "Agg")
    scope.setdefault("display", display)
    scope["inputs"] = inputs
    for key, value in inputs.items():
        if key.isidentifier() and not keyword.iskeyword(key):
            scope[key] = value
    return scope


def run(code, inputs, scope=None):
    """Runs the code; returns the result dict. Never raises for a failure of the user's code.

    `scope` is a session's namespace, kept between runs; without one every run starts empty.
    """
    return with_artifacts(run_code(code, inputs, scope))


def run_code(code, inputs, scope=None):
    SOURCE[0] = code
    fresh = scope is None
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
    module = MAIN[0] if MAIN[0] is not None and MAIN[0].__dict__ is scope else None
    saved = as_main(module, code) if module is not None else None
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
    finally:
        if saved is not None:
            sys.modules["__main__"], sys.argv = saved
        if fresh:
            MAIN[0] = None  # the run's namespace is garbage now, in an interpreter that goes on


def as_main(module, code):
    """Makes `module` the running script (sys.modules, sys.argv, its source in linecache) until the
    run ends; returns what to restore, for interpreters that outlive the run (sessions, Pyodide, a
    kernel)."""
    import linecache

    entry = (len(code), None, code.splitlines(True), FILENAME)
    linecache.cache[FILENAME] = entry
    linecache.cache[module.__file__] = entry[:3] + (module.__file__,)
    saved = (sys.modules.get("__main__"), sys.argv)
    sys.modules["__main__"] = module
    sys.argv = [module.__file__]
    return saved


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
