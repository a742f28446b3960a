"""A Python project and its dependencies made on the spot, for the workspace benchmark: tiny
wheels written as zip files (no build tool, no network) and a project whose in-tree build
backend needs nothing installed, so `pip install --no-index --find-links` sets it up offline."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

DEPENDENCIES = ("hdb_alpha", "hdb_beta", "hdb_gamma", "hdb_delta", "hdb_epsilon")
TEST_DEPENDENCY = "hdb_zeta"
MODULES = 30  # modules per dependency, each a few KB: a small library's size
VERSION = "1.0"
WHEEL = b"Wheel-Version: 1.0\nGenerator: hdbench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(where: Path, name: str, files: dict[str, str], requires: list[str]) -> Path:
    """A pure-Python wheel of `files` (path -> text) with its dist-info, in `where`."""
    dist = f"{name}-{VERSION}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {VERSION}"]
    meta += [f"Requires-Dist: {req}" for req in requires]
    contents = {path: text.encode() for path, text in files.items()}
    contents[f"{dist}/METADATA"] = ("\n".join(meta) + "\n").encode()
    contents[f"{dist}/WHEEL"] = WHEEL
    record = [_record_line(path, data) for path, data in contents.items()]
    record.append(f"{dist}/RECORD,,")
    contents[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = where / f"{name}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for member, data in contents.items():
            wheel.writestr(member, data)
    return path


def write_wheelhouse(where: Path) -> list[Path]:
    """The project's dependencies (and its test extra's) as wheels in `where`."""
    where.mkdir(parents=True, exist_ok=True)
    made = []
    for name in (*DEPENDENCIES, TEST_DEPENDENCY):
        body = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(60))
        files = {f"{name}/__init__.py": f'"""{name}."""\n'}
        files |= {f"{name}/m{n:02d}.py": body for n in range(MODULES)}
        made.append(write_wheel(where, name, files, []))
    return made


BACKEND = '''"""An in-tree PEP 517/660 backend: the benchmark's project builds with nothing else."""

import base64, hashlib, os, zipfile

NAME, VERSION = "benchlib", "0.1"
REQUIRES = {requires!r}
TEST = {test!r}


def _meta():
    lines = ["Metadata-Version: 2.1", "Name: " + NAME, "Version: " + VERSION,
             "Provides-Extra: test"]
    lines += ["Requires-Dist: " + r for r in REQUIRES]
    lines += ["Requires-Dist: " + TEST + " ; extra == 'test'"]
    return "\\n".join(lines) + "\\n"


def _wheel(directory, files):
    dist = NAME + "-" + VERSION + ".dist-info"
    files = dict(files)
    files[dist + "/METADATA"] = _meta()
    files[dist + "/WHEEL"] = ("Wheel-Version: 1.0\\nGenerator: benchbackend\\n"
                              "Root-Is-Purelib: true\\nTag: py3-none-any\\n")
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(path + ",sha256=" + digest + "," + str(len(data)))
    files[dist + "/RECORD"] = "\\n".join(record + [dist + "/RECORD,,"]) + "\\n"
    name = NAME + "-" + VERSION + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


get_requires_for_build_editable = get_requires_for_build_wheel


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {{"_benchlib.pth": os.path.abspath("src") + "\\n"}})


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {{}}
    for root, _, names in os.walk("src"):
        for name in names:
            path = os.path.join(root, name)
            with open(path) as handle:
                files[os.path.relpath(path, "src")] = handle.read()
    return _wheel(wheel_directory, files)
'''

PYPROJECT = """[build-system]
requires = []
build-backend = "benchbackend"
backend-path = ["_backend"]

[project]
name = "benchlib"
version = "0.1"
dependencies = {deps}

[project.optional-dependencies]
test = ["{test}"]
"""


def write_project(where: Path) -> None:
    """A src-layout project depending on the wheelhouse's packages, its tests on the extra."""
    deps = "[" + ", ".join(f'"{d}"' for d in DEPENDENCIES) + "]"
    files = {
        "pyproject.toml": PYPROJECT.format(deps=deps, test=TEST_DEPENDENCY),
        "_backend/benchbackend.py": BACKEND.format(
            requires=list(DEPENDENCIES), test=TEST_DEPENDENCY
        ),
        "src/benchlib/__init__.py": "from hdb_alpha.m00 import f1\n\n\ndef one():\n"
        "    return f1(0)\n",
        "tests/test_one.py": "from benchlib import one\n\n\ndef test_one():\n"
        "    assert one() == 1\n",
        ".gitignore": ".venv/\n__pycache__/\n",
    }
    for rel, text in files.items():
        path = where / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
