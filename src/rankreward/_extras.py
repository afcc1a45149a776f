"""Optional dependencies: import one, or say which extra installs it.

A documented internal module (used across packages): ``require("ray", "ray", "RayWindows")``
returns the module or raises ``ImportError: RayWindows needs ray: pip install "rankreward[ray]"``,
so a user missing an extra reads the fix instead of a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str, what: str) -> ModuleType:
    """``module`` imported, or an ``ImportError`` naming ``what`` needs it and the extra that
    installs it. O(1) after the first import.

    Examples:
        >>> require("json", "core", "reading").__name__
        'json'
        >>> require("no_such_module_x", "ray", "RayWindows")
        Traceback (most recent call last):
        ...
        ImportError: RayWindows needs no_such_module_x: pip install "rankreward[ray]"
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if e.name is not None and e.name != module and not module.startswith(e.name + "."):
            raise  # the module is there but one of its own imports failed: show that
        raise ImportError(f'{what} needs {module}: pip install "rankreward[{extra}]"') from e
