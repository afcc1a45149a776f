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
