"""A stand-in for the IPython kernel behind E2B's code interpreter, for the local E2B server.

One process per code context. Cells arrive as JSON lines on stdin ({"id", "code"}); messages leave
as JSON lines on fd 3, each tagged with its cell's id, in the shapes the code interpreter streams:
stdout, stderr, result (a MIME bundle, is_main_result), error (name, value, traceback), end.
Like E2B's kernel:
- cells run inside a running asyncio event loop, in one namespace kept between cells, and the value
  of a cell's last expression is displayed through IPython's formatters (the object's _repr_*_
  methods; dicts and lists as application/json, as the template's E2BJSONFormatter does);
- matplotlib runs with an inline backend: after each cell every open figure is displayed as
  image/png with E2B's `e2b/chart` data, even without show(), then closed;
- the kernel idles at about the address space of the real one (~790 MB with the template's
  libraries mapped), so a limit on the kernel's whole address space starves it as it does there.
"""

import ast
import asyncio
import base64
import builtins
import io
import json
import mmap
import os
import signal
import sys
import traceback

CHANNEL = 3
CELL = [None]
MIME_METHODS = {
    "_repr_json_": "application/json",
    "_repr_png_": "image/png",
    "_repr_jpeg_": "image/jpeg",
    "_repr_svg_": "image/svg+xml",
    "_repr_html_": "text/html",
    "_repr_markdown_": "text/markdown",
    "_repr_latex_": "text/latex",
}
# Reserved, never touched: address space without memory, as the real kernel's mapped libraries are.
FOOTPRINT = mmap.mmap(-1, int(os.environ.pop("E2B_LOCAL_KERNEL_FOOTPRINT_MB", "0") or 0) << 20 or 1)


def send(message):
    message["cell"] = CELL[0]
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


def figure_bundle(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    width, height = figure.get_size_inches() * figure.dpi
    return {
        "text/plain": "<Figure size %dx%d with %d Axes>" % (width, height, len(figure.axes)),
        "image/png": base64.b64encode(buffer.getvalue()).decode(),
        "e2b/chart": chart(figure),
    }


def chart(figure):
    """A reduced form of e2b_charts' chart_figure_to_dict: type, title, one element per line/bar set."""
    axes = figure.axes[0] if figure.axes else None
    if axes is None:
        return {}
    elements = [
        {"label": line.get_label(), "points": [[float(x), float(y)] for x, y in line.get_xydata()]}
        for line in axes.get_lines()
    ]
    return {
        "type": "line" if elements else "unknown",
        "title": axes.get_title() or None,
        "x_label": axes.get_xlabel() or None,
        "y_label": axes.get_ylabel() or None,
        "elements": elements,
    }


def bundle(value):
    figure_type = getattr(sys.modules.get("matplotlib.figure"), "Figure", None)
    if figure_type is not None and isinstance(value, figure_type):
        return figure_bundle(value)
    data = {"text/plain": repr(value)}
    if isinstance(value, (dict, list)):
        try:
            data["application/json"] = json.loads(json.dumps(value))
        except (TypeError, ValueError):
            pass
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


def flush_figures():
    """The inline backend's post-execute hook: every figure left open is shown, then closed."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    for number in pyplot.get_fignums():
        send(dict(type="result", is_main_result=False, **figure_bundle(pyplot.figure(number))))
    pyplot.close("all")


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
    # An interrupt (the server's, when a client leaves mid-execution) stops the cell, not the kernel.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.setdefault("MPLBACKEND", "Agg")
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
        CELL[0] = request["id"]
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
        try:
            flush_figures()
        except Exception as exc:  # noqa: BLE001
            send({"type": "stderr", "text": "figure display failed: %s\n" % exc})
        send({"type": "end"})


if __name__ == "__main__":
    asyncio.run(main())
