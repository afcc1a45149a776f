"""The per-completion rules of the Dr. Seg reward that need no ground truth: format, look and
non_repeat, as plain functions of the text (see ``drseg-reference.md``)."""

from __future__ import annotations

import re

from .parser import DEFAULT_MAX_CHARS, Problem, parse_completion
from .prompt import PLACEHOLDER_PHRASES

__all__ = ["format_reward", "look_reward", "non_repeat_problems", "non_repeat_reward"]

# "your reasoning text" with any punctuation, spaces or underscores (or none) between the words,
# matched on the lower-cased text ("case-insensitive" is str.lower()). One pattern per phrase:
# a pattern that starts with a literal is searched with sre's fast literal scan (an alternation
# or re.IGNORECASE would make it try every position, about 5x slower).
_PLACEHOLDERS = [re.compile(r"[\W_]*".join(map(re.escape, p.split()))) for p in PLACEHOLDER_PHRASES]
# Sentence ends: . ! ? and their CJK (full-width) forms, and the ellipsis character.
_SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f\u2026]+")
_EDGE = "\"'`“”‘’„«»()[]{}<>（）【】「」『』《》〈〉,，、"


def _placeholder_problem(found: str) -> Problem:
    return Problem("placeholder_text", f"copies the prompt's placeholder {found!r}")


def _repeat_problem(repeats: int) -> Problem:
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
    """A sentence as the repeat check compares it (trimmed, edge punctuation stripped, spaces
    collapsed, lower-cased)."""
    return " ".join(sentence.strip().strip(_EDGE).split()).lower()


def non_repeat_problems(text: str) -> list[Problem]:
    """Why ``non_repeat`` is 0 for ``text`` (an empty list when it is 1). O(len(text)).

    Examples:
        >>> [p.code for p in non_repeat_problems("A. B. A. B.")]
        ['repeated_sentences']
    """
    lowered = text.lower()
    for pattern in _PLACEHOLDERS:
        m = pattern.search(lowered)
        if m:
            return [_placeholder_problem(m.group())]
    # `_normalise` inlined. Lower-casing stays per sentence: the whole text's lower() differs at
    # sentence ends (Greek final sigma: "ΑΣ.Β".lower() is "ασ.β", "ΑΣ".lower() is "ας").
    parts = [" ".join(s.strip().strip(_EDGE).split()).lower() for s in _SENTENCE_END.split(text)]
    parts = [s for s in parts if s]
    repeats = len(parts) - len(set(parts))
    if repeats >= 2:
        return [_repeat_problem(repeats)]
    return []


def non_repeat_reward(text: str) -> float:
    """0.0 if the text copies a placeholder phrase of the prompt or two or more of its sentences
    repeat an earlier one, else 1.0. O(len(text)).

    Examples:
        >>> non_repeat_reward("The cup is red. It is on the left.")
        1.0
        >>> non_repeat_reward("<think>[Your reasoning text]</think>")
        0.0
    """
    return 0.0 if non_repeat_problems(text) else 1.0
