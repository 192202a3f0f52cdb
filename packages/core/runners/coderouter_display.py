"""Rich displays of a Python snippet as artifacts, the way E2B's interpreter returns them.

Imported by coderouter_runner only when the code called display() or loaded matplotlib, so a
plain run pays nothing. Every figure left open when the code ends becomes an image/png artifact
(as the notebook's inline backend shows them, even without show()), and display(obj) renders obj
through its _repr_*_ methods (_repr_mimebundle_ first), as IPython does. Artifacts are
{"mimeType", "data", "encoding"} with binary formats in base64, like the E2B runtime's.
"""

import base64
import sys

DISPLAYED = []
# E2B's result fields in the order the E2B runtime turns them into artifacts.
FORMATS = [
    ("image/png", "_repr_png_", "base64"),
    ("image/jpeg", "_repr_jpeg_", "base64"),
    ("application/pdf", "_repr_pdf_", "base64"),
    ("image/svg+xml", "_repr_svg_", "utf8"),
    ("text/html", "_repr_html_", "utf8"),
    ("text/markdown", "_repr_markdown_", "utf8"),
    ("text/latex", "_repr_latex_", "utf8"),
    ("application/javascript", "_repr_javascript_", "utf8"),
    ("application/json", "_repr_json_", "utf8"),
]


def display(*values):
    """IPython's display(): each value's rich representations become artifacts, in call order."""
    for value in values:
        DISPLAYED.extend(artifacts_of(value))


def artifacts_of(value):
    figure = figure_type()
    if figure is not None and isinstance(value, figure):
        return [figure_png(value)]
    bundle = {}
    render = getattr(value, "_repr_mimebundle_", None)
    if callable(render):
        produced = render()
        data = produced[0] if isinstance(produced, tuple) else produced
        if isinstance(data, dict):
            bundle.update(data)
    for mime, method, _ in FORMATS:
        render = getattr(value, method, None)
        if mime not in bundle and callable(render):
            rendered = render()
            if rendered is not None:
                bundle[mime] = rendered[0] if isinstance(rendered, tuple) else rendered
    out = []
    for mime, _, encoding in FORMATS:
        if mime in bundle:
            out.append(artifact(mime, bundle[mime], encoding))
    if not out:
        out.append({"mimeType": "text/plain", "data": str(bundle.get("text/plain", repr(value))), "encoding": "utf8"})
    return out


def artifact(mime, data, encoding):
    if encoding == "base64":
        if isinstance(data, str):
            return {"mimeType": mime, "data": data, "encoding": "base64"}
        return {"mimeType": mime, "data": base64.b64encode(data).decode(), "encoding": "base64"}
    if mime == "application/json":
        import json

        return {"mimeType": mime, "data": json.dumps(data), "encoding": "utf8"}
    return {"mimeType": mime, "data": str(data), "encoding": "utf8"}


def figure_type():
    module = sys.modules.get("matplotlib.figure")
    return getattr(module, "Figure", None)


def figure_png(figure):
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return artifact("image/png", buffer.getvalue(), "base64")


def collect():
    """The artifacts of this run: what display() showed, then every figure still open (closed after)."""
    out = DISPLAYED[:]
    del DISPLAYED[:]
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        for number in pyplot.get_fignums():
            out.append(figure_png(pyplot.figure(number)))
        pyplot.close("all")
    return out
