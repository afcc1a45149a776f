"""The house rules of the layout: no module imports a private name from another package (kernels
shared across packages go through documented internal modules such as `metrics.kernels`), and
one windows / Ray-host implementation."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "rankreward"


def _package(parts: list[str]) -> tuple[str, ...]:
    """``rankreward.<package>`` a module belongs to (a top-level module is its own)."""
    return tuple(parts[:2])


def test_no_private_name_crosses_packages():
    crossings = []
    for path in SRC.rglob("*.py"):
        module = ["rankreward", *path.relative_to(SRC).with_suffix("").parts]
        here = module[:-1]  # the package the relative import starts from
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = here[: len(here) - (node.level - 1)] + (node.module or "").split(".")
            target = [p for p in base if p]
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and _package(target) != _package(module):
                    crossings.append(f"{'.'.join(module)} imports {'.'.join(target)}.{alias.name}")
    assert crossings == []


def test_one_windows_and_one_ray_host():
    sources = {p: p.read_text() for p in SRC.rglob("*.py")}
    hosts = [p.name for p, s in sources.items() if "ray.remote(" in s]
    counted = [p.name for p, s in sources.items() if '"{step}"' in s and "replace(" in s]
    assert hosts == ["ray_actor.py"]
    assert counted == ["state.py"]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_module_is_imported_from_another_package():
    """A package's private module (``adapters._shared``) serves that package only; the
    top-level ``rankreward._*`` modules are the documented shared internals."""
    crossings = []
    for path in SRC.rglob("*.py"):
        module = ["rankreward", *path.relative_to(SRC).with_suffix("").parts]
        here = module[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = here[: len(here) - (node.level - 1)] + (node.module or "").split(".")
                targets = [[p for p in base if p]]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rankreward"):
                targets = [node.module.split(".")]
            elif isinstance(node, ast.Import):
                targets = [a.name.split(".") for a in node.names if a.name.startswith("rankreward")]
            else:
                continue
            for target in targets:
                inner = [i for i, part in enumerate(target) if _private(part) and i >= 2]
                if inner and _package(target) != _package(module):
                    crossings.append(f"{'.'.join(module)} imports {'.'.join(target)}")
    assert crossings == []


def test_no_private_attribute_is_read_from_another_module():
    """``obj._name`` only where this module defines ``_name`` (its own classes' state, an
    override) or a documented shared internal (``rankreward/_*.py``: ``LockFreePickle``'s
    ``_lock``) does: no module reaches into another's internals."""

    def defined_in(tree: ast.AST) -> set[str]:
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                  and isinstance(n.ctx, ast.Store)}  # fmt: skip
        names |= {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.AnnAssign)
                  for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                  if isinstance(t, ast.Name)}  # fmt: skip
        return names

    shared = set().union(*(defined_in(ast.parse(p.read_text())) for p in SRC.glob("_*.py")))
    reaches = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        defined = defined_in(tree) | shared
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in defined:
                reaches.append(f"{path.relative_to(SRC)}:{node.lineno} {ast.unparse(node)}")
    assert reaches == []
