"""What the recipes' batch paths accept as plain numbers: everything else (bools, strings,
NaN, huge ints) goes to the per-sample restatement, which reproduces the published code's
Python arithmetic on it exactly."""

from __future__ import annotations

from typing import Any

__all__ = ["plain_box", "plain_number"]


def plain_number(v: Any) -> bool:
    """An int or float (not a bool), finite, and exact in float64. O(1).

    Examples:
        >>> plain_number(3), plain_number(2.5), plain_number(True), plain_number(float("nan"))
        (True, True, False, False)
    """
    return (type(v) is int or type(v) is float) and abs(v) < 2**53


def plain_box(box: Any, *, exactly_four: bool = False) -> bool:
    """A list whose first four entries (``exactly_four``: whose entries, four of them) are
    plain numbers. O(1).

    Examples:
        >>> plain_box([0, 0, 5, 5, "x"]), plain_box([0, 0, 5, 5, 1], exactly_four=True)
        (True, False)
    """
    if type(box) is not list or len(box) < 4 or (exactly_four and len(box) != 4):
        return False
    return all(plain_number(v) for v in box[:4])
