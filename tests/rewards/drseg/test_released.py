"""The default reward equals the released Dr. Seg reward (``docs/paper.md``, "The released
reward, exactly"): hand-written rule tables, the reference-style implementation of the released
rules (`rankreward.testing.reference`) on generated hard cases, the baseline, the prompt and the
ablation switches."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.rewards.recipes.drseg import (
    LOOK_TO_CONFIRM,
    DrSegReward,
    VisionReasonerReward,
    accuracy_metrics,
    build_messages,
    build_prompt,
    format_reward,
    non_repeat_reward,
    placeholder_phrases,
)
from rankreward.testing import reference

OBJ = {"bbox_2d": [10, 10, 50, 50], "point_2d": [30, 30]}
GT1 = json.dumps([OBJ])


def _text(answer: str) -> str:
    return f"<think>ok <look>it</look></think><answer>{answer}</answer>"


@pytest.mark.parametrize(
    ("answer", "gt", "want"),
    [
        ('[{"bbox_2d": [10, 10, 50], "point_2d": [30, 30]}]', GT1, (0.0, 1.0, 0.0)),  # 3 wide
        ('[{"bbox_2d": [10, 10, 50, 50, 1], "point_2d": [30, 30]}]', GT1, (0.0, 1.0, 0.0)),
        ('[{"bbox_2d": ["10", " 1e1 ", 50, 50], "point_2d": [30, "30"]}]', GT1, (1.0, 1.0, 1.0)),
        ('[{"bbox_2d": [10, 10, 50, 50], "point_2d": [true, 30]}]', GT1, (1.0, 1.0, 1.0)),
        ('[{"bbox_2d": [10, 10, 50, "x"], "point_2d": [30, 30]}]', GT1, (0.0, 1.0, 0.0)),
        ('[{"bbox_2d": [10, 10, NaN, 50], "point_2d": [30, 30]}]', GT1, (0.0, 1.0, 0.0)),
        ('{"bbox_2d": [10, 10, 50, 50], "point_2d": [30, 30]}', GT1, (0.0, 0.0, 0.0)),  # M = 0
        ('[{"bbox_2d": [10, 10, 50, 50]}]', GT1, (0.0, 0.0, 0.0)),  # a missing key: M = 0
        ("[1, 2]", GT1, (0.0, 0.0, 0.0)),
        ("not json", "[]", (0.0, 1.0, 0.0)),  # M = N = 0: count fit 1
        ("[]", "[]", (0.0, 1.0, 0.0)),
        ('[{"bbox_2d": [1, 2, 3, 4], "point_2d": [1, 2]}]', "[]", (0.0, 0.0, 0.0)),
        (
            '[{"bbox_2d": [10, 10, 50, 50], "point_2d": [30, 30]}, '
            '{"bbox_2d": [1, 2, 3], "point_2d": [1, 2]}]',
            GT1,
            (0.0, 0.5, 0.0),  # M = 2 whatever the values; no geometry
        ),
    ],
)
def test_released_accuracy_rules(answer, gt, want):
    text = _text(answer)
    assert accuracy_metrics(text, gt) == want
    assert reference.accuracy(text, gt) == want
    b = DrSegReward().score([text], [gt])
    assert (b["x1"][0], b["x2"][0], b["x3"][0]) == want


def test_no_answer_against_empty_ground_truth_has_count_fit_one():
    b = DrSegReward().score(["no tags", "<answer></answer>"], ["[]", "[]"])
    assert b["x2"].tolist() == [1.0, 1.0]
    strict = DrSegReward(compat="strict").score(["no tags"], ["[]"])
    assert strict["x2"].tolist() == [0.0]


def test_malformed_ground_truth_raises():
    with pytest.raises(ValueError, match=r"ground_truth\[0\]"):
        DrSegReward()(["x"], ["not json"])


PIECES = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "<look>",
    "</look>",
    " ",
    "\n",
    ".",
    "!",
    "...",
    "…",
    "(",
    ")",
    '"',
    "'",
    ";",
    ":",
    "_",
    "-",
    "your reasoning text",
    "Your Visual focus",
    "more_reasoning text",
    "xyour visual focus",
    "The cup",
    "the cup",
    "A",
    "a",
    "Σ",
    "é",
    '[{"bbox_2d": [10, 10, 50, 50], "point_2d": [30, 30]}]',
    '[{"bbox_2d": [12, 9, 48, 52], "point_2d": [31, 28]}, {"bbox_2d": [0, 0, 5], "point_2d": [1, 1]}]',
    '[{"bbox_2d": ["10", 10, 50, 50], "point_2d": [30, true]}]',
    '[{"bbox_2d": [50, 50, 10, 10], "point_2d": [30, 30]}]',
    '[{"bbox_2d": [10, 10, 50, 50]}]',
    "{}",
    "[]",
    '""',
    "[1e400]",
]


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.lists(st.sampled_from(PIECES), max_size=14), min_size=1, max_size=8),
    gts=st.sampled_from(
        [GT1, "[]", json.dumps([OBJ, {"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}])]
    ),
)
def test_batch_equals_released_reference(parts, gts):
    texts = ["".join(p) for p in parts]
    b = DrSegReward().score(texts, [gts] * len(texts))
    for k, text in enumerate(texts):
        structure, items, look = reference.format_reward(text)
        assert (b["structure"][k], b["answer_items"][k], b["look"][k]) == (structure, items, look)
        assert format_reward(text) == structure + items + look, text
        assert b["non_repeat"][k] == reference.non_repeat_reward(text) == non_repeat_reward(text)
        want = reference.accuracy(text, gts)
        assert (b["x1"][k], b["x2"][k], b["x3"][k]) == want, text
        assert accuracy_metrics(text, gts) == want, text


def test_reward_equals_released_reference_over_steps():
    from rankreward.testing.synthetic import synthetic_batch

    rng = np.random.default_rng(5)
    ours, ref = DrSegReward(), reference.ReferenceDrSeg()
    for _ in range(6):
        completions, gts = synthetic_batch(96, rng)
        assert ours(completions, gts) == ref(completions, gts)
        ours.commit()
        ref.commit()


def test_prompt_is_the_released_one_byte_for_byte():
    released = (
        'Please find "{q}" with bboxs and points.Compare the difference between object(s) and '
        "find the most closely matched object(s).Output the thinking process inside "
        "<think>...</think>.Inside this reasoning, you must include one or more <look>...</look> "
        "blocks, enclosing the parts of the reasoning where you pay special attention to "
        "certain visual information. Then, output the final answer inside <answer>...</answer>. "
        "Output the bbox(es) and point(s) inside the interested object(s) in JSON format. i.e., "
        "<think> [your reasoning text] <look> [your visual focus] </look> [more reasoning text] "
        '</think><answer>[{{"bbox_2d": [10,100,200,210], "point_2d": [30,110]}}, '
        '{{"bbox_2d": [225,296,706,786], "point_2d": [302,410]}}]</answer>'
    )
    assert build_prompt("The Red Cup.") == released.format(q="the red cup")
    assert build_prompt('"Is it?"', stage="eval") == released.format(q="is it")
    train = build_messages("Cup.")[0]["content"]
    assert train[0] == {"type": "image"} and train[1]["text"] == "\n" + released.format(q="cup")
    assert build_messages("Cup.", stage="eval")[0]["content"][1]["text"] == released.format(q="cup")


def test_placeholder_phrases_follow_the_template():
    template = "Find {question}. e.g. <think> [my chain of thought] </think><answer>[]</answer>"
    assert placeholder_phrases(template) == ("my chain of thought",)
    reward = DrSegReward(template=template)
    texts = [
        "I show My Chain-of-thought here.",
        "your reasoning text",
        "Ünïcode my chain of thought",
    ]
    b = reward.score(texts, ["[]"] * 3)
    assert b["non_repeat"].tolist() == [0.0, 1.0, 0.0]
    assert DrSegReward().score(texts, ["[]"] * 3)["non_repeat"].tolist() == [1.0, 0.0, 1.0]
    assert "my chain of thought" in placeholder_phrases(template)
    assert placeholder_phrases(LOOK_TO_CONFIRM)[0] == "your reasoning text"


def _vr_reference(text: str, gt: str) -> float:
    """VisionReasoner's released reward, written here in its style (no look, `.`-split
    non_repeat, (3 matches - cost) / max(M, N) with 0 on any failure)."""
    structure, items, _ = reference.format_reward(text)
    acc = 0.0
    try:
        g = json.loads(gt)
        gb = np.array([o["bbox_2d"] for o in g], dtype=float)
        gp = np.array([o["point_2d"] for o in g], dtype=float)
        m = re.search(r"<answer>\s*(.*?)\s*</answer>", text, re.DOTALL)
        if m:
            data = json.loads(m.group(1))
            pb = np.array([o["bbox_2d"] for o in data][:120])
            pp = np.array([o["point_2d"] for o in data][:120])
            if pb.dtype.kind not in "if" or pp.dtype.kind not in "if":
                raise TypeError("not numbers")
            _, _, rows, cols = reference.match(pb.astype(float), pp.astype(float), gb, gp)
            iou, dist, _, _ = reference.match(pb.astype(float), pp.astype(float), gb, gp)
            l1 = np.abs(pb[:, None, :] - gb[None]).mean(2)
            inside = (
                (pp[:, 0] >= pb[:, 0])
                & (pp[:, 0] <= pb[:, 2])
                & (pp[:, 1] >= pb[:, 1])
                & (pp[:, 1] <= pb[:, 3])
            )
            cost = 3 - (iou > 0.5) - (l1 < 10) - ((dist < 30) & inside[:, None])
            acc = (len(rows) * 3.0 - cost[rows, cols].sum()) / max(len(pb), len(gb))
    except Exception:
        acc = 0.0
    pieces = [s.strip() for s in text.split(".") if s.strip()]
    non_repeat = 0.0 if len(pieces) - len(set(pieces)) >= 2 else 1.0
    return structure + items + acc + non_repeat


@settings(max_examples=150, deadline=None)
@given(parts=st.lists(st.lists(st.sampled_from(PIECES), max_size=12), min_size=1, max_size=6))
def test_visionreasoner_reward_equals_its_released_definition(parts):
    texts = ["".join(p) for p in parts]
    gt = json.dumps([OBJ, {"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}])
    got = VisionReasonerReward()(texts, ground_truth=[gt] * len(texts))
    assert got == [_vr_reference(t, gt) for t in texts]


def test_ablation_switches():
    text = _text(json.dumps([OBJ]))
    full = DrSegReward()([text], ground_truth=[GT1])[0]
    no_look = DrSegReward(look=False)([text], ground_truth=[GT1])[0]
    assert full - no_look == 1.0
    raw = DrSegReward(accuracy="raw").score([text], [GT1])
    assert "x1_rank" not in raw and raw["x1"][0] == 1.0 and raw["accuracy"][0] == 3.0
    assert DrSegReward(accuracy="raw").normalizer is None  # raw accuracy keeps no window
    vr = DrSegReward(accuracy="visionreasoner").score([text], [GT1])
    assert vr["accuracy"][0] == 3.0 and "x1_rank" not in vr and vr["reward"][0] == 8.0
    with pytest.raises(ValueError, match="accuracy must be"):
        DrSegReward(accuracy="rank")
    assert VisionReasonerReward().max_reward == 7.0
