"""Hypothesis checks of the released-protocol helpers against plain restatements of the
released code: VisionReasoner's non_repeat loop, the question preprocessing of the training and
evaluation scripts, and the placeholder phrases of a template."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from rankreward.rewards.recipes.drseg import (
    LOOK_TO_CONFIRM,
    VISIONREASONER_PROMPT,
    build_prompt,
    placeholder_phrases,
    preprocess_question,
)
from rankreward.rewards.recipes.drseg.rules import visionreasoner_non_repeat

sentences = st.lists(st.sampled_from(["a", "b", " a", "A", "", " ", "x y", "\n"]), max_size=8)


def released_non_repeat(text: str) -> float:
    """VisionReasoner's loop: count sentences seen before; 0 at the second repeat."""
    parts = [s.strip() for s in text.split(".") if s.strip()]
    seen, repeats = set(), 0
    for s in parts:
        if s in seen:
            repeats += 1
        if repeats >= 2:
            return 0.0
        seen.add(s)
    return 1.0


@given(sentences.map(".".join) | st.text(max_size=60))
def test_visionreasoner_non_repeat_equals_the_released_loop(text):
    assert visionreasoner_non_repeat(text) == released_non_repeat(text)


@given(st.text(max_size=40))
def test_question_preprocessing_equals_the_released_scripts(q):
    assert preprocess_question(q) == q.lower().strip(".")  # rl_dataset.py
    assert preprocess_question(q, "eval") == q.lower().strip('."?!')  # evaluation_drseg.py
    stripped = q.lower().strip('."?!')
    assert build_prompt(q, stage="eval").startswith('Please find "' + stripped + '"')


words = st.lists(st.sampled_from(["your", "reasoning", "Text", "visual", "focus", "x1"]),
                 min_size=1, max_size=4)  # fmt: skip


@given(st.lists(words, max_size=4), st.text(alphabet="ab <>:", max_size=10))
def test_placeholder_phrases_are_the_bracketed_multiword_phrases(groups, filler):
    template = filler.join(f"[{' '.join(g)}]" for g in groups)
    want = []
    for g in groups:
        phrase = " ".join(g).lower()
        if len(g) > 1 and re.search("[a-z]", phrase) and phrase not in want:
            want.append(phrase)
    assert placeholder_phrases(template) == tuple(want)


def test_released_templates_have_their_phrases():
    assert placeholder_phrases(LOOK_TO_CONFIRM) == (
        "your reasoning text", "your visual focus", "more reasoning text")  # fmt: skip
    assert placeholder_phrases(VISIONREASONER_PROMPT) == ()  # its example has no brackets
