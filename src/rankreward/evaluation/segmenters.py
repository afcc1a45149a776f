"""Deprecated location of the segmenters: they are the package `rankreward.segment` now (shared
by the rewards and the evaluation). Importing this module warns until `REMOVAL_RELEASE`."""

import warnings

from .._deprecation import REMOVAL_RELEASE
from ..segment import *  # noqa: F403 - every public name of the package, for 0.1 code
from ..segment import __all__ as __all__

warnings.warn(
    "rankreward.evaluation.segmenters is deprecated: import from rankreward.segment (removed "
    f"in rankreward {REMOVAL_RELEASE})",
    FutureWarning,
    stacklevel=2,
)
