"""Deprecated location of the reward service: it is the package `rankreward.serve` now
(`RewardService` in `rankreward.serve.service`, the app and command line in
`rankreward.serve.app`). Importing this module warns until `REMOVAL_RELEASE`."""

import warnings

from . import serve as _serve
from ._deprecation import REMOVAL_RELEASE
from .serve import *  # noqa: F403 - every public name of the package, for 0.1 code

__all__ = list(_serve.__all__)

warnings.warn(
    "rankreward.service is deprecated: import from rankreward.serve (removed in rankreward "
    f"{REMOVAL_RELEASE})",
    FutureWarning,
    stacklevel=2,
)
