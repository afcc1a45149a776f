"""The command lines' help text and the TRL version gate, against simple oracles."""

from __future__ import annotations

import argparse
import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.adapters.trl import MIN_TRL, check_trl_version
from rankreward.arguments import HelpFormatter, plain

_word = st.text(st.characters(blacklist_characters="`", blacklist_categories=("Cs",)), max_size=8)
_inner = st.text(st.characters(blacklist_characters="`\n", blacklist_categories=("Cs",)),
                 min_size=1, max_size=8)  # fmt: skip
_piece = st.one_of(
    _word.map(lambda w: (w, w)),
    _inner.map(lambda w: (f"``{w}``", w)),
    _inner.map(lambda w: (f"`{w}`", w)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_piece, max_size=6))
def test_plain_drops_exactly_the_rest_quotes(pieces):
    """Text built from plain words, ``code`` and `name` pieces reads as the pieces' contents."""
    text = "".join(raw for raw, _ in pieces)
    if any(a.endswith("`") and b.startswith("`") for (a, _), (b, _) in itertools.pairwise(pieces)):
        return  # two quoted pieces touching make a different quote (```), not these pieces
    assert plain(text) == "".join(inner for _, inner in pieces)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 3),
    st.integers(0, 30),
    st.integers(0, 9),
    st.sampled_from(["", "rc1", ".dev0", "a2", "+local"]),
)
def test_trl_version_gate_matches_packaging(major, minor, patch, suffix):
    """The gate refuses exactly the versions whose (major, minor) packaging orders below
    MIN_TRL, pre-releases of 1.15 included in what it accepts (their API is 1.15's)."""
    version = pytest.importorskip("packaging.version")
    found = f"{major}.{minor}.{patch}{suffix}"
    old = version.Version(found).release[:2] < MIN_TRL
    if old:
        with pytest.raises(ImportError, match=re.escape(f"found TRL {found}:")):
            check_trl_version(found)
    else:
        check_trl_version(found)


def test_help_formatter_keeps_the_layout_and_names_real_defaults():
    p = argparse.ArgumentParser(prog="x", description="Run ``x``.\n\n    x --n 3",
                                formatter_class=HelpFormatter)  # fmt: skip
    p.add_argument("--n", type=int, default=3, help="how many")
    p.add_argument("--flag", action="store_true", help="a switch")
    p.add_argument("--path", help="a `path` (default: the cwd)")
    text = p.format_help()
    assert "Run x.\n\n    x --n 3" in text  # line breaks of the description kept
    assert "how many (default: 3)" in text
    assert "a switch\n" in text and "(default: False)" not in text
    assert "a path (default: the cwd)\n" in text and "(default: None)" not in text
