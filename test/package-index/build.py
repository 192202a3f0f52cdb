"""Builds the packages the local index serves: a pure-Python wheel and an npm tarball, from nothing.

usage: python3 build.py OUT_DIR MARKER
"""
import base64
import json
import hashlib
import io
import sys
import tarfile
import zipfile
from pathlib import Path


def wheel(out: Path, name: str, version: str, source: str) -> Path:
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": source,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: coderouter-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    target = out / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return target


def npm_tarball(out: Path, name: str, version: str, source: str, marker: str) -> Path:
    """A package whose postinstall script would create `marker`: proof, when it is absent, that no script ran."""
    target = out / f"{name}-{version}.tgz"
    manifest = json.dumps({"name": name, "version": version, "main": "index.js", "scripts": {"postinstall": postinstall(marker)}})
    with tarfile.open(target, "w:gz") as archive:
        for path, text in {"package/package.json": manifest, "package/index.js": source}.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return target


def postinstall(marker: str) -> str:
    return f"node -e \"require('fs').writeFileSync('{marker}', '')\""


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    wheel(out, "crtiny", "1.2.3", "ANSWER = 42\ndef greet(name):\n    return f'hello {name}'\n")
    npm_tarball(out, "cr-tiny", "2.0.1", "exports.answer = 42;\nexports.greet = (name) => `hello ${name}`;\n", sys.argv[2])
