"""The one way a former name keeps working for a release: a `FutureWarning` that names the
replacement and `REMOVAL_RELEASE`, then the new object. A documented internal module (bottom
floor): every package that renamed something uses it."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["REMOVAL_RELEASE", "renamed_attributes", "warn_renamed"]

#: The release that removes the names deprecated in 0.2 (modules, classes, keys, keywords).
REMOVAL_RELEASE = "0.3.0"


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is now ``new`` and goes in `REMOVAL_RELEASE`. O(1).

    Examples:
        >>> with warnings.catch_warnings(record=True) as seen:
        ...     warnings.simplefilter("always")
        ...     warn_renamed("a.old", "a.new")
        >>> str(seen[0].message)
        'a.old is deprecated: use a.new (removed in rankreward 0.3.0)'
    """
    warnings.warn(
        f"{old} is deprecated: use {new} (removed in rankreward {REMOVAL_RELEASE})",
        FutureWarning,
        stacklevel=stacklevel,
    )


def renamed_attributes(
    module: str, renamed: Mapping[str, tuple[str, Callable[[], Any]]]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for former names: ``{old: (new name, () -> new object)}``.
    Reading ``module.old`` warns (`warn_renamed`) and returns the new object. O(1).

    Examples:
        >>> getattr_ = renamed_attributes("m", {"old": ("m.new", lambda: 42)})
        >>> with warnings.catch_warnings(record=True) as seen:
        ...     warnings.simplefilter("always")
        ...     getattr_("old"), seen[0].category.__name__
        (42, 'FutureWarning')
    """

    def __getattr__(name: str) -> Any:
        if name not in renamed:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new, get = renamed[name]
        warn_renamed(f"{module}.{name}", new)
        return get()

    return __getattr__
