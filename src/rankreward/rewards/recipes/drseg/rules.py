"""The per-completion rules of the Dr. Seg reward that need no ground truth: format, look and
non_repeat, as plain functions of the text (see ``docs/paper.md``)."""

from __future__ import annotations

import functools
import re

from .parser import DEFAULT_MAX_CHARS, Problem, parse_completion
from .prompt import PLACEHOLDER_PHRASES

__all__ = [
    "format_reward",
    "look_reward",
    "non_repeat_problems",
    "non_repeat_reward",
    "placeholder_problem",
    "repeat_problem",
    "visionreasoner_non_repeat",
]


# The released rule: each phrase as whole words (\b at both ends), any run of non-word
# characters (or none) between the words, re.IGNORECASE, searched anywhere in the text.
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = r"[\s\W]*".join(map(re.escape, phrase.split()))
    return re.compile(rf"\b{words}\b", re.IGNORECASE)


@functools.lru_cache(maxsize=64)
def placeholder_patterns(phrases: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """The compiled placeholder patterns of a phrase set (cached)."""
    return tuple(_phrase_pattern(p) for p in phrases)


# Sentence ends: . ! ? and their CJK (full-width) forms, and the ellipsis character.
SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f\u2026]+")
#: What the released normalisation strips from a sentence's ends after the whitespace (one
#: ``str.strip`` call with these characters: the ASCII space but no other whitespace).
EDGE = " \"'“”‘’[](){}，,;:、"
_SPACES = re.compile(r"\s+")


def placeholder_problem(found: str) -> Problem:
    return Problem("placeholder_text", f"copies the prompt's placeholder {found!r}")


def repeat_problem(repeats: int) -> Problem:
    return Problem("repeated_sentences", f"{repeats} sentences repeat an earlier one")


def format_reward(text: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> float:
    """structure (0/1) + answer items (0..2) + look (0/1): 0..4. O(len(text)).

    Examples:
        >>> format_reward('<think><look>a cup</look></think><answer>[{"bbox_2d": [1, 2, 3, 4]}]</answer>')
        3.0
    """
    return parse_completion(text, max_chars=max_chars).format_score


def look_reward(text: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> float:
    """1.0 if a ``<look>`` block with non-whitespace content lies inside the think or the answer
    section, else 0.0. O(len(text)).

    Examples:
        >>> look_reward("<think><look> </look></think><answer>[]</answer>")
        0.0
    """
    return parse_completion(text, max_chars=max_chars).look


def _normalise(sentence: str) -> str:
    """A sentence as the released repeat check compares it: ``strip()``, then strip the edge
    characters, then every whitespace run becomes one space (leading and trailing ones
    included: ``"(\\nx"`` becomes ``" x"``), then ``lower()``."""
    return _SPACES.sub(" ", sentence.strip().strip(EDGE)).lower()


def non_repeat_problems(text: str, phrases: tuple[str, ...] = PLACEHOLDER_PHRASES) -> list[Problem]:
    """Why ``non_repeat`` is 0 for ``text`` (an empty list when it is 1), by the released rule:
    a placeholder phrase of the prompt (``phrases``) copied anywhere, or two or more sentences
    (split on runs of . ! ? 。 ！ ？ …, normalised by `_normalise`, empty ones dropped) that
    repeat an earlier one. O(len(text)).

    Examples:
        >>> [p.code for p in non_repeat_problems("A. B. A. B.")]
        ['repeated_sentences']
    """
    for pattern in placeholder_patterns(tuple(phrases)):
        m = pattern.search(text)
        if m:
            return [placeholder_problem(m.group().lower())]
    parts = [_normalise(s) for s in SENTENCE_END.split(text)]
    parts = [s for s in parts if s]
    repeats = len(parts) - len(set(parts))
    if repeats >= 2:
        return [repeat_problem(repeats)]
    return []


def non_repeat_reward(text: str, phrases: tuple[str, ...] = PLACEHOLDER_PHRASES) -> float:
    """0.0 if the text copies a placeholder phrase of the prompt or two or more of its sentences
    repeat an earlier one, else 1.0. O(len(text)).

    Examples:
        >>> non_repeat_reward("The cup is red. It is on the left.")
        1.0
        >>> non_repeat_reward("<think>[Your reasoning text]</think>")
        0.0
    """
    return 0.0 if non_repeat_problems(text, phrases) else 1.0


def visionreasoner_non_repeat(text: str) -> float:
    """VisionReasoner's non_repeat (the baseline's): split on ``.``, strip, drop empty pieces;
    0 once two pieces repeat an earlier one, else 1. O(len(text)).

    Examples:
        >>> visionreasoner_non_repeat("a. b. a. b.")
        0.0
        >>> visionreasoner_non_repeat("A. a. B")
        1.0
    """
    pieces = [s.strip() for s in text.split(".")]
    pieces = [s for s in pieces if s]
    return 0.0 if len(pieces) - len(set(pieces)) >= 2 else 1.0
