"""Streaming distribution-ranked normalisers (`RankNormalizer`) and their window backends."""

from .normalizer import STATE_VERSION, RankNormalizer
from .rounding import python_round, round_fractions

__all__ = ["STATE_VERSION", "RankNormalizer", "python_round", "round_fractions"]
