"""The compiled batch scanner against the Python rules (tests/rewards/drseg/oracle.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.rewards.recipes.drseg.scan import NEEDS_ANSWER, NEEDS_NON_REPEAT, scan_batch
from rankreward.testing.synthetic import synthetic_batch

from .oracle import assert_batch_matches

OBJ = '{"bbox_2d": [10, 10, 50, 50], "point_2d": [30, 30]}'


def _wrap(answer: str, think: str = "t <look>x</look>") -> str:
    return f"<think>{think}</think><answer>{answer}</answer>"


EDGE_CASES = [
    "",
    "no tags at all",
    _wrap(f"[{OBJ}]"),
    _wrap(f"  [ {OBJ} ,\n\t{OBJ} ]  "),
    _wrap('[{"point_2d": [1, 2], "bbox_2d": [1, 2, 3, 4]}]'),  # keys in the other order
    _wrap('[{"bbox_2d": [1, 2, 3, 4], "point_2d": [1, 2], "label": "cup"}]'),  # an extra key
    _wrap('[{"bbox_2d": [1, 2, 3, 4], "bbox_2d": [5, 6, 7, 8], "point_2d": [1, 2]}]'),  # repeated
    _wrap('[{"bbox_2d": [1, 2, 3], "point_2d": [1, 2]}]'),
    _wrap('[{"bbox_2d": [1, 2, 3, 4, 5], "point_2d": [1, 2]}]'),
    _wrap('[{"bbox_2d": [1, 2, 3, 4]}]'),
    _wrap('{"bbox_2d": [1, 2, 3, 4], "point_2d": [1, 2]}'),
    _wrap('[{"bbox_2d": [1, 2, 3, 4], "point_2d": [1, 2]},]'),  # trailing comma
    _wrap('[{"bbox_2d": [01, 2, 3, 4], "point_2d": [1, 2]}]'),  # leading zero
    _wrap('[{"bbox_2d": [-0, -0.0, 0e5, -0E-3], "point_2d": [1.5e2, 2.50]}]'),  # signed zeros
    _wrap('[{"bbox_2d": [1e22, 1e-22, 1e23, 1], "point_2d": [1, 2]}]'),
    _wrap('[{"bbox_2d": [1000000000, -1000000000, 1000000001, 1], "point_2d": [1, 2]}]'),
    _wrap('[{"bbox_2d": [123456789012345678, 0.1234567890123456789, 3, 4], "point_2d": [1, 2]}]'),
    _wrap('[{"bbox_2d": [0.1, 0.2, 0.3, 999999999.99999999], "point_2d": [1e0, 2E+0]}]'),
    _wrap('[{"bbox_2d": [NaN, 2, 3, 4], "point_2d": [1, 2]}]'),
    _wrap('[{"bbox_2d": [Infinity, 2, 3, 4], "point_2d": [1, 2]}]'),
    _wrap('[{"bbox_2d": [true, 2, 3, 4], "point_2d": [1, 2]}]'),
    _wrap('[{"bbox_2d": ["1", 2, 3, 4], "point_2d": [1, 2]}]'),
    _wrap('[{"bbox_2d": [1., 2, 3, 4], "point_2d": [1, 2]}]'),
    _wrap('[{"bbox_2d": [.5, 2, 3, 4], "point_2d": [1, 2]}]'),
    _wrap('[{"bbox_2d": [+1, 2, 3, 4], "point_2d": [1, 2]}]'),
    _wrap('[{"bbox\\u005f2d": [1, 2, 3, 4], "point_2d": [1, 2]}]'),  # an escaped key
    _wrap(f"[{OBJ}]\x0c"),  # \x0c: stripped by str.strip, fine
    _wrap(f"[\x0c{OBJ}]"),  # inside the JSON: not JSON whitespace
    _wrap(f"[{OBJ}]\u00a0"),
    _wrap("[]"),
    _wrap("[ ]"),
    _wrap("```json\n" + f"[{OBJ}]" + "\n```"),
    _wrap(f"[{OBJ}] trailing"),
    _wrap(f"[{OBJ}]", think="[your reasoning text] <look> x </look>"),
    _wrap(f"[{OBJ}]", think="A cup. A cup. A cup. <look>x</look>"),
    _wrap(f"[{OBJ}]", think="Ἀ cup. ΑΣ.Β a cup. A CUP <look>x</look>"),
    _wrap(f"[{OBJ}]", think="杯子。杯子！杯子？<look>x</look>"),
    _wrap(f"[{OBJ}]", think="Hmm\u2026 hmm\u2026 hmm\u2026 <look>x</look>"),
    _wrap(f"[{OBJ}]", think="\u3000<look>\u3000\u2028</look>"),  # Unicode-blank look
    f"<think>a</think>\u00a0<answer>[{OBJ}]</answer>",
    f"<think>a</think>\u0085\x1c<answer>[{OBJ}]</answer>",
    f" <think>a</think><answer>[{OBJ}]</answer> x",
    f"\u00a0<think>a</think><answer>[{OBJ}]</answer>\u3000",
    "<think><think>a</think></think><answer>[]</answer>",
    "<think><answer>[]</answer></think>",
    "</look></think><think>a<look>b</think></answer>",
    "<think>" + "<look>" * 70 + "</think><answer>[]</answer>",
    "<think>" + "<look></look>" * 40 + "</think><answer>[]</answer>",
    "<answer>[]</answer><think>x</think>",
    "<think>x</think><answer>[]",
    "<think>x<answer>[]</answer>",
    "<thinker>x</thinker><answer>[]</answer>",
    '<think>é</think><answer>[{"bbox_2d": [1, 2, 3, 4], "point_2d": [1, 2]}]</answer>',
    '<think>杯</think><answer>[{"bbox_2d": [1, 2, 3, 4], "point_2d": [1, 2]}]</answer>',
    _wrap("[" + ", ".join([OBJ] * 130) + "]"),  # over the 120-object cap
    _wrap("[" + ", ".join([OBJ] * 119 + ['{"bbox_2d": [1, 2, 3], "point_2d": [1, 2]}']) + "]"),
    _wrap("[" + ", ".join([OBJ] * 121 + ['{"bbox_2d": [1, 2, 3, 4]}']) + "]"),
]


def test_edge_cases_match_the_python_rules():
    assert_batch_matches(EDGE_CASES)
    assert_batch_matches(EDGE_CASES, strict=False)


def test_caps_match():
    assert_batch_matches(EDGE_CASES, max_chars=60)
    assert_batch_matches(EDGE_CASES, max_objects=3)


def test_synthetic_benchmark_batch_matches():
    completions, _ = synthetic_batch(600, np.random.default_rng(3))
    assert_batch_matches(completions)
    assert_batch_matches(completions, strict=False)


def test_latin1_and_utf32_batches_agree():
    # One non-Latin-1 text switches the whole batch to UTF-32 code points: same results.
    texts = EDGE_CASES[:20]
    a = scan_batch(texts, max_chars=10_000, max_objects=120)
    b = scan_batch([*texts, "杯"], max_chars=10_000, max_objects=120)
    for name in ("structure", "answer_items", "look", "canonical", "num_kept", "status"):
        assert np.array_equal(getattr(a, name), getattr(b, name)[:-1]), name
    assert b.status[-1] & NEEDS_NON_REPEAT


def test_fallbacks_are_flagged():
    s = scan_batch([_wrap("not json"), _wrap(f"[{OBJ}]", think="é <look>x</look>")],
                   max_chars=10_000, max_objects=120)  # fmt: skip
    assert s.status.tolist() == [NEEDS_ANSWER, NEEDS_NON_REPEAT]
    assert s.canonical.tolist() == [False, True]


NUMBER_FORMATS = [
    lambda x: json.dumps(x),
    lambda x: repr(float(x)),
    lambda x: f"{x:.3f}",
    lambda x: f"{x:.0f}",
    lambda x: f"{x:.6e}",
    lambda x: f"{x:.2E}",
    lambda x: f"{x:.17g}",
    lambda x: str(int(x)),
]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.tuples(
            st.one_of(
                st.floats(-2e9, 2e9, allow_nan=False),
                st.integers(-(10**12), 10**12).map(float),
                st.sampled_from([0.0, -0.0, 1e-22, 1e22, 0.1, 999999999.5, 1e9, -1e9]),
            ),
            st.integers(0, len(NUMBER_FORMATS) - 1),
        ),
        min_size=6,
        max_size=18,
    ),
    spaces=st.sampled_from(["", " ", "\n", " \t\r\n "]),
)
def test_numbers_read_exactly(values, spaces):
    numbers = [NUMBER_FORMATS[f](x) for x, f in values]
    objs = []
    for k in range(0, len(numbers) - 5, 6):
        b, p = numbers[k : k + 4], numbers[k + 4 : k + 6]
        objs.append(f'{{"bbox_2d":{spaces}[{",".join(b)}],{spaces}"point_2d": [{spaces.join(p)}]}}')
    assert_batch_matches([_wrap("[" + f",{spaces}".join(objs) + "]")])


TOKENS = st.sampled_from([
    "<think>", "</think>", "<answer>", "</answer>", "<look>", "</look>", "<", ">", "/",
    "[", "]", "{", "}", ":", ",", '"bbox_2d"', '"point_2d"', "1", "-2.5", "3e1", "0",
    " ", "\n", "\t", "\x0c", "\x1c", "\u00a0", "\u3000", "\u0085",
    ".", "!", "?", "...", "\u3002", "\u2026", "'", '"', "(", ")",
    "cup", "The cup", "A CUP", "your", "reasoning", "text", "your reasoning text", "more_reasoning-text",
    "Your Visual Focus", "é", "Σ", "杯", "ß",
])  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(TOKENS, max_size=40), strict=st.booleans())
def test_token_soup_matches(pieces, strict):
    text = "".join(pieces)
    assert_batch_matches([text, _wrap(f"[{OBJ}]", think=text), _wrap(text)], strict=strict)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_arbitrary_unicode_matches(text):
    assert_batch_matches(
        [text, _wrap(text, think=text), f"<think>{text}</think><answer>[]</answer>"]
    )


def test_many_tags_counted_past_the_check_cap():
    text = "<think>" + "<look>x</look>" * 100 + "</think><answer>[]</answer>"
    s = scan_batch([text], max_chars=100_000, max_objects=120)
    # many_tags only: the first 64 tags nest correctly, and <think> closes after the cap
    assert s.num_records[0] == 1
    assert_batch_matches([text])


@pytest.mark.parametrize("n", [0, 1, 2, 7, 33])
def test_batch_sizes(n):
    completions, _ = synthetic_batch(n, np.random.default_rng(n))
    assert_batch_matches(completions)


def test_repeat_check_is_linear_on_sentences_sharing_their_edges():
    import time

    # 20,000 distinct sentences with equal length and equal first and last 8 characters.
    text = "".join(f"aaaaaaaa{k:06d}zzzzzzzz. " for k in range(20_000)) + "x. x. x."
    t = time.perf_counter()
    assert_batch_matches([text], max_chars=10**6)
    assert time.perf_counter() - t < 30.0
