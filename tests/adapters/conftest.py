"""Shared fixtures of the trainer-adapter tests."""

from __future__ import annotations

import pytest

from rankreward.adapters import _shared, easyr1


@pytest.fixture
def fresh_adapter_state():
    """No reward object or EasyR1 resume decision carried over from another test."""
    _shared.reset_shared_rewards()
    easyr1._resume_decided.clear()
    yield
    _shared.reset_shared_rewards()
    easyr1._resume_decided.clear()
