"""Streaming distribution-ranked normalisers (`RankNormalizer`), their window backends, keyed
window sets that commit together by sample count (`LocalWindows`), the one-window view of them
with a normalizer's calls (`AutoCommitNormalizer`) and the state-file format (`save_state`)."""

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
    "load_state",
    "paper_window",
    "python_round",
    "round_fractions",
    "save_state",
]
