"""Deprecated location of the reward service: it is the package `rankreward.serve` now
(`RewardService` in `rankreward.serve.service`, the app and command line in
`rankreward.serve.app`). Importing this module warns until `REMOVAL_RELEASE`."""

import warnings

from ._deprecation import REMOVAL_RELEASE
from .serve import (
    MIN_TOKEN_CHARS,
    TOKEN_ENV,
    RequestError,
    RewardService,
    build_app,
    main,
    read_token,
    serve,
)

__all__ = [
    "MIN_TOKEN_CHARS",
    "TOKEN_ENV",
    "RequestError",
    "RewardService",
    "build_app",
    "main",
    "read_token",
    "serve",
]

warnings.warn(
    "rankreward.service is deprecated: import from rankreward.serve (removed in rankreward "
    f"{REMOVAL_RELEASE})",
    FutureWarning,
    stacklevel=2,
)
