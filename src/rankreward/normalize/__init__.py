"""Streaming distribution-ranked normalisers (`RankNormalizer`), their window backends, and
wrappers that add a commit policy (`AutoCommitNormalizer`)."""

from .autocommit import AutoCommitNormalizer
from .normalizer import STATE_VERSION, RankNormalizer, load_state, save_state
from .rounding import python_round, round_fractions
from .wrapper import NormalizerLike, NormalizerWrapper

__all__ = [
    "STATE_VERSION",
    "AutoCommitNormalizer",
    "NormalizerLike",
    "NormalizerWrapper",
    "RankNormalizer",
    "load_state",
    "python_round",
    "round_fractions",
    "save_state",
]
