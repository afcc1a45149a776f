"""Streaming distribution-ranked normalisers (`RankNormalizer`), their window backends, keyed
window sets that commit together by sample count (`LocalWindows`), the one-window view of them
with a normalizer's calls (`AutoCommitNormalizer`), the state-file format (`save_state`), and
the trainers' group advantages of a multi-component reward with each component's share of them
(`group_advantages`, `advantage_shares`)."""

from .advantages import (
    advantage_contributions,
    advantage_shares,
    group_advantages,
    zero_spread_fractions,
)
from .autocommit import AutoCommitNormalizer
from .normalizer import STATE_VERSION, RankNormalizer
from .rounding import python_round, round_fractions
from .state import load_state, save_state
from .windows import LocalWindows, paper_window
from .wrapper import NormalizerLike, NormalizerWrapper

__all__ = [
    "STATE_VERSION",
    "AutoCommitNormalizer",
    "LocalWindows",
    "NormalizerLike",
    "NormalizerWrapper",
    "RankNormalizer",
    "advantage_contributions",
    "advantage_shares",
    "group_advantages",
    "load_state",
    "paper_window",
    "python_round",
    "round_fractions",
    "save_state",
    "zero_spread_fractions",
]
