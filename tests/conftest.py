"""Shared test settings: hypothesis profiles and device parametrisation helpers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

# OpenRLHF lives outside site-packages (scripts/_env.sh: its pins conflict with the main
# environment); appended, so it never shadows an installed package.
_OPENRLHF = Path(__file__).resolve().parents[1] / ".extras" / "openrlhf"
if _OPENRLHF.is_dir() and str(_OPENRLHF) not in sys.path:
    sys.path.append(str(_OPENRLHF))


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


requires_cuda = pytest.mark.skipif(not cuda_available(), reason="no CUDA device")
