"""The package's folders are layers: a module imports only from its own layer and those below.

docs/architecture.md lists the layers, top to bottom; this test reads every import of the package
(module level, inside functions, and the `module:function` strings the build resolves at run
time) and fails on one that reaches up. It also keeps the other rules of the layout: subpackage
`__init__.py` files import nothing (the stop hook's interpreter imports them at every stop),
no module is over 350 lines, and the root holds only what everything uses plus the one-line
re-exports kept for old import paths."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hatchdoit"
RESOURCES = PACKAGE / "resources"
# Bottom first. A root module is placed by name; a module in a folder, by its folder.
LAYERS = (
    "core",
    "config",
    "planning",
    "records",
    "confinement",
    "providers",
    "agents",
    "project",
    "run",
    "provider_runs",
    "delivery",
    "steps",
    "observe",
    "build",
    "shared",
    "cli",
    "entry",
)
ROOT_MODULES = {
    "hatchdoit": "core",
    "hatchdoit.layout": "core",
    "hatchdoit.project": "project",
    "hatchdoit.__main__": "entry",
}
# Kept at their old paths for users' dodo.py, agent profiles and copied scripts (each says so).
REEXPORTS = {"hatchdoit.graph", "hatchdoit.headless", "hatchdoit.stop_hook"}
MAX_LINES = 350
STRING_REF = re.compile(r"^(hatchdoit(?:\.\w+)+)(?::\w+)?$")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    if module in ROOT_MODULES:
        return ROOT_MODULES[module]
    if module in REEXPORTS:
        return "entry"
    folder = module.split(".")[1]
    assert folder in LAYERS, f"{module}: folder {folder!r} is in no layer of docs/architecture.md"
    return folder


def imported(tree: ast.AST, package: str) -> set[str]:
    """Every hatchdoit module `tree` imports, however it does."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative: resolve against the importing package
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if base.startswith("hatchdoit"):
                found.add(base)
                found.update(
                    f"{base}.{alias.name}"
                    for alias in node.names
                    if (PACKAGE.parent / base.replace(".", "/") / f"{alias.name}.py").is_file()
                )
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("hatchdoit"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            ref = STRING_REF.match(node.value)
            if ref and (PACKAGE.parent / (ref.group(1).replace(".", "/") + ".py")).is_file():
                found.add(ref.group(1))
    return found


def all_modules() -> dict[str, Path]:
    """The package's modules; not its resources/ (package data: standalone scripts such as the
    scripted agent, which import only the standard library)."""
    code = (p for p in sorted(PACKAGE.rglob("*.py")) if RESOURCES not in p.parents)
    return {module_name(p): p for p in code}


def test_no_import_reaches_a_higher_layer() -> None:
    upward = []
    for module, path in all_modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        mine = LAYERS.index(layer_of(module))
        for target in sorted(imported(tree, package)):
            if target.split(".")[:2] == ["hatchdoit", "__init__"]:
                continue
            theirs = LAYERS.index(layer_of(target))
            if theirs > mine:
                upward.append(f"{module} ({LAYERS[mine]}) imports {target} ({LAYERS[theirs]})")
    assert not upward, "\n".join(upward)


def test_subpackage_inits_import_nothing() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
        assert not imports, f"{init} imports; the stop hook imports every package on its path"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_module_size(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines"


def test_the_root_holds_what_everything_uses() -> None:
    root = {module_name(p) for p in PACKAGE.glob("*.py")}
    assert root - REEXPORTS == set(ROOT_MODULES)
    for module in REEXPORTS:
        path = PACKAGE.parent / (module.replace(".", "/") + ".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
        assert len(imports) == 1 and ast.get_docstring(tree), f"{path}: a documented re-export"
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert folders == set(LAYERS) - {"project", "entry"}
    assert not list(RESOURCES.rglob("__init__.py")), "resources/ is data, not a package"


def test_resources_import_nothing_of_hatchdoit() -> None:
    for path in sorted(RESOURCES.rglob("*.py")):
        assert not imported(ast.parse(path.read_text(encoding="utf-8")), ""), path
