"""A stand-in for the IPython kernel behind E2B's code interpreter, for the local E2B server.

One process per code context. Cells arrive as JSON lines on stdin ({"code", "env"}); messages
leave as JSON lines on fd 3 in the shapes the code interpreter streams: stdout, stderr, result
(a MIME bundle, is_main_result), error (name, value, traceback), end. Like IPython, cells run
inside a running asyncio event loop, in one namespace kept between cells, and the value of a
cell's last expression is displayed through the object's _repr_*_ methods.
"""

import ast
import asyncio
import builtins
import json
import os
import sys
import traceback

CHANNEL = 3
MIME_METHODS = {
    "_repr_json_": "application/json",
    "_repr_png_": "image/png",
    "_repr_jpeg_": "image/jpeg",
    "_repr_svg_": "image/svg+xml",
    "_repr_html_": "text/html",
    "_repr_markdown_": "text/markdown",
}


def send(message):
    data = (json.dumps(message) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(CHANNEL, view):]


class Stream:
    """sys.stdout / sys.stderr of the kernel: each write becomes one message, as ipykernel's do."""

    encoding = "UTF-8"  # as ipykernel's OutStream says; doctest and others read it

    def __init__(self, name):
        self.name = name

    def write(self, text):
        if text:
            send({"type": self.name, "text": text})
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


def bundle(value):
    data = {"text/plain": repr(value)}
    for method, mime in MIME_METHODS.items():
        render = getattr(value, method, None)
        if callable(render):
            rendered = render()
            if rendered is not None:
                data[mime] = rendered
    return data


def display(*values):
    for value in values:
        send(dict(type="result", is_main_result=False, **bundle(value)))


def cell_traceback(exc):
    """The traceback from the cell down, without the kernel's own frames, as IPython shows it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    lines = ["Traceback (most recent call last):\n"] + traceback.format_list(frames) if frames else []
    return "".join(lines + traceback.format_exception_only(type(exc), exc))


async def run_cell(code, namespace):
    tree = ast.parse(code, "<cell>")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    body = compile(tree, "<cell>", "exec", flags=flags)
    pending = eval(body, namespace)
    if asyncio.iscoroutine(pending):
        await pending
    if last is None:
        return None
    value = eval(compile(last, "<cell>", "eval", flags=flags), namespace)
    return (await value) if asyncio.iscoroutine(value) else value


async def main():
    # IPython makes display() a builtin: code run in any namespace can call it.
    builtins.display = display
    namespace = {"__name__": "__main__"}
    sys.stdout, sys.stderr = Stream("stdout"), Stream("stderr")
    reader = asyncio.StreamReader(limit=1 << 30)
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    count = 0
    while True:
        line = await reader.readline()
        if not line:
            return
        request = json.loads(line)
        os.environ.update(request.get("env") or {})
        count += 1
        send({"type": "number_of_executions", "execution_count": count})
        try:
            value = await run_cell(request["code"], namespace)
            if value is not None:
                send(dict(type="result", is_main_result=True, **bundle(value)))
        except BaseException as exc:  # noqa: BLE001 - the cell's failure is reported, the kernel lives on
            send({
                "type": "error",
                "name": type(exc).__name__,
                "value": str(exc),
                "traceback": cell_traceback(exc),
            })
        send({"type": "end"})


if __name__ == "__main__":
    asyncio.run(main())
