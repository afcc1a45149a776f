"""The seg-r1 and think2seg-rs presets equal the released reward functions (restated in
``mask_oracles``, one completion and one SAM call at a time) given the same segmenter, on
well-formed, near-miss, malformed, empty and no-target answers; each image is encoded once per
batch; model output never raises."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankreward.rewards import preset
from rankreward.rewards.recipes.segr1 import read_segr1
from rankreward.rewards.recipes.think2seg import parse_sam_json

from ..segment.fake import FakeSegmenter, FakeTwoStage, fake_masks
from . import mask_oracles as oracle

json_repair = pytest.importorskip("json_repair")

H, W = 24, 32


def _image(seed):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    img[:, : W // 2, 0], img[:, : W // 2, 2] = 200, 50  # red left half, blue right half
    img[:, W // 2 :, 0], img[:, W // 2 :, 2] = 50, 200
    return img


IMAGES = [_image(0), _image(1)]


def _truth(kind, x1, y1, x2, y2):
    m = np.zeros((H, W), bool)
    if kind == "box":
        m[y1 : y2 + 1, x1 : x2 + 1] = True
    elif kind == "full":
        m[:] = True
    return m


truths = st.builds(_truth, st.sampled_from(["box", "box", "box", "empty", "full"]),
                   st.integers(0, 15), st.integers(0, 11), st.integers(12, 31), st.integers(8, 23))  # fmt: skip


def _often(value, *rare):
    """``value`` 9 times in 10, else one of ``rare``."""
    return st.one_of(st.just(value), st.sampled_from(rare)) if rare else st.just(value)


coord = st.one_of(*[st.integers(0, 34)] * 12, st.sampled_from(["01", "007", " 3 ", "00", "99"]))


def _list(items, sep=","):
    return "[" + sep.join(str(i) for i in items) + "]"


@st.composite
def segr1_text(draw):
    rare = draw(st.integers(0, 3)) == 0  # a quarter of the answers carry a malformation
    pick = (
        (lambda good, *bad: draw(st.sampled_from([good, *bad])))
        if rare
        else (lambda good, *bad: good)
    )
    parts = []
    parts.append(pick("<think>ok</think>", "<think></think>", "<think>a", ""))
    for _ in range(draw(st.integers(1, 3)) if not rare else draw(st.integers(0, 3))):
        x1, y1 = draw(st.integers(0, 20)), draw(st.integers(0, 15))
        box = [x1, y1, x1 + draw(st.integers(0, 14)), y1 + draw(st.integers(0, 10))]
        if rare and draw(st.booleans()):
            box = [draw(coord) for _ in range(draw(st.sampled_from([4, 3])))]
        parts.append(f"<bbox>{_list(box, pick(',', ', ', ' , '))}</bbox>")
    n_points = draw(st.integers(1, 5)) if not rare else draw(st.integers(0, 5))
    if pick(True, False):
        pairs = [
            f"[{draw(st.integers(0, 34))},{draw(st.integers(0, 26))}]" for _ in range(n_points)
        ]
        if rare and pairs and draw(st.booleans()):
            pairs[0] = f"[{draw(coord)},{draw(coord)}]"
        joiner = pick(",", ", ", " ", "")  # " " and "" fail eval as released
        parts.append(f"<points>[{joiner.join(pairs)}{pick('', ',')}]</points>")
    if pick(True, False):
        n = n_points + pick(0, 1, -1)
        labels = [draw(st.sampled_from(["1", "0", "1"])) if not rare else
                  draw(st.sampled_from(["1", "0", "2", "01"])) for _ in range(max(n, 0))]  # fmt: skip
        parts.append(f"<labels>{_list(labels, pick(',', ' ', ', '))}</labels>")
    if rare and draw(st.integers(0, 3)) == 0:
        parts.append(
            draw(st.sampled_from(["<labels>[" + "1" * 12, "<points>[[1,2] [3,4]", "junk"]))
        )
    draw(st.randoms()).shuffle(parts)
    return " ".join(parts)


def _segr1_oracle(texts, gts, images, corrected=False, swap=False):
    pred = oracle.Predictor(fake_masks)
    return [oracle.segr1_segmentation_reward(t, g, i, pred, corrected, swap) + oracle.segr1_format_reward(t)
            for t, g, i in zip(texts, gts, images, strict=False)]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(segr1_text(), truths, st.integers(0, 1)), min_size=1, max_size=6),
       st.sampled_from(["released", "corrected"]), st.booleans())  # fmt: skip
def test_segr1_equals_the_released_reward(rows, compat, swap):
    texts, gts, which = zip(*rows, strict=False)
    images = [IMAGES[i] for i in which]
    reward = preset("seg-r1", segmenter=FakeSegmenter(), compat=compat, swap_rb=swap)
    got = reward(list(texts), ground_truth=list(gts), image=images)
    want = _segr1_oracle(texts, gts, images, compat == "corrected", swap)
    np.testing.assert_array_equal(got, want)


def test_segr1_reads_what_the_released_regexes_and_eval_read():
    for text in ["<labels>[" + "1" * 14 + " x", "<points>[[1,2] [3,4]]</points>",
                 "<bbox>[01,2,3,4]</bbox><points>[[1,2]]</points><labels>[1]</labels>",
                 "<points>[[1,2],[3,4],]</points><labels>[1 , 0 ,]</labels><bbox>[0,0,9,9]</bbox>",
                 "<points>[[١,2]]</points><labels>[1]</labels><bbox>[0,0,9,9]</bbox>",  # an Arabic-Indic digit
                 "<labels>[" + "9" * 5000 + "]</labels>"]:  # fmt: skip
        a = read_segr1(text)
        p, lab, b = oracle.parse_custom_format(text)
        for ours, theirs in ((a.points, p), (a.labels, lab), (a.boxes, b)):
            assert (ours is None) == (theirs is None), text
            if ours is not None:
                np.testing.assert_array_equal(ours, theirs)


def test_segr1_is_linear_where_the_released_regex_backtracks():
    import time

    text = "<labels>[" + "1" * 20000 + " x" * 5000
    t = time.perf_counter()
    read_segr1(text * 5)
    assert time.perf_counter() - t < 1.0  # the released regex takes exponential time here


@st.composite
def think2seg_text(draw):
    num = st.one_of(st.integers(0, 40), st.floats(0, 40, allow_nan=False).map(lambda v: round(v, 1)),
                    st.sampled_from(["12", None, True, float("nan"), 10**30, [1]]))  # fmt: skip
    objects = []
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 2, 3, 0]))):
        obj = {}
        if draw(st.integers(0, 4)):
            obj["bbox_2d"] = [draw(num) if draw(st.integers(0, 29)) == 0 else draw(st.integers(0, 31))
                              for _ in range(draw(st.sampled_from([4] * 8 + [3])))]  # fmt: skip
        if draw(st.integers(0, 5)):
            obj["positive_points"] = [[draw(st.integers(0, 31)), draw(st.integers(0, 23))]
                                      for _ in range(draw(st.sampled_from([2] * 8 + [1, 3])))]  # fmt: skip
            if draw(st.integers(0, 12)) == 0:
                obj["positive_points"][0][0] = draw(num)
        if draw(st.integers(0, 9)) == 0:
            obj["negative_points"] = draw(st.sampled_from([None, [], [[1, 1]]]))
        objects.append(obj)
    body = json.dumps(objects)
    if draw(st.integers(0, 6)) == 0:
        body = body[: draw(st.integers(0, len(body)))]  # truncated: json_repair's path
    block = draw(
        st.sampled_from(
            ["```json\n{}\n```"] * 6 + ["```json{}```", "```json {}", "{}", "```json\n{} ```x"]
        )
    ).format(body)
    think = draw(st.sampled_from(["<think>r</think>"] * 4 + ["<think>r</think>\n", "", "<think>r"]))
    wrapped = draw(st.sampled_from(["<answer>{}</answer>"] * 4 + ["{}", "<answer>{}"])).format(
        block
    )
    return think + wrapped


def _think2seg_oracle(texts, gts, images, repair):
    out = []
    for t, g, i in zip(
        texts, gts, images, strict=False
    ):  # one sample per batch: no coupling across samples
        pred = oracle.Predictor(fake_masks)
        final = oracle.think2seg_rewards([[{"content": t}][0]["content"]], [g], [i], pred, repair)[
            0
        ]
        out.append(final + oracle.think2seg_format(t, repair) + oracle.thk_ans_format(t))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(think2seg_text(), truths, st.integers(0, 1)), min_size=1, max_size=6),
       st.sampled_from(["released", "strict"]))  # fmt: skip
def test_think2seg_equals_the_released_reward(rows, compat):
    texts, gts, which = zip(*rows, strict=False)
    images = [IMAGES[i] for i in which]
    reward = preset("think2seg-rs", segmenter=FakeSegmenter(), compat=compat)
    got = reward(list(texts), ground_truth=list(gts), image=images)
    repair = json_repair.loads if compat == "released" else None
    want = _think2seg_oracle(texts, gts, images, repair)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=200, deadline=None)
@given(think2seg_text())
def test_think2seg_parser_equals_the_released_one(text):
    ours, _ = parse_sam_json(text, json_repair.loads)
    theirs, _ = oracle.parse_sam_json(text, json_repair.loads)
    assert ours == theirs or (ours is not None and json.dumps(ours) == json.dumps(theirs))


def test_think2seg_scores_each_sample_on_its_own():
    """The released loop zeroes the whole batch when one answer's coordinates break SAM; each
    sample keeps its score here, and the broken one says why."""
    good = '<think>r</think><answer>```json [{"bbox_2d": [2, 2, 12, 12], "positive_points": [[4, 4], [5, 5]]}] ```</answer>'
    bad = '<think>r</think><answer>```json [{"bbox_2d": [2, 2, 12, "x"], "positive_points": [[4, 4], [5, 5]]}] ```</answer>'
    gt = _truth("box", 2, 2, 12, 12)
    released = oracle.think2seg_rewards(
        [good, bad], [gt, gt], IMAGES, oracle.Predictor(fake_masks), None
    )
    assert released == [0.0, 0.0]
    reward = preset("think2seg-rs", segmenter=FakeSegmenter(), compat="strict")
    out = reward.score([good, bad], [gt, gt], context={"image": IMAGES})
    assert out["mask_iou"][0] > 0 and out["mask_iou"][1] == 0
    assert "zeroes every sample" in out["problems"][1][0]


def test_no_target_scores_an_empty_list_only():
    empty = np.zeros((H, W), bool)
    texts = ["<answer>```json [] ```</answer>", '<answer>```json [{"positive_points": [[1, 1], [2, 2]]}] ```</answer>',
             "nothing"]  # fmt: skip
    out = preset("think2seg-rs", segmenter=FakeSegmenter(), compat="strict").score(
        texts, [empty] * 3, context={"image": [IMAGES[0]] * 3}
    )
    assert out["mask_iou"].tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("name", ["seg-r1", "think2seg-rs"])
@pytest.mark.parametrize("groups", [4, 8, 12])
def test_each_distinct_image_is_encoded_once(name, groups):
    """P prompts x G completions: P encodes, not P x G, though TRL hands every completion its
    own image object; one decode call per image."""
    seg = FakeTwoStage()
    kw = {"compat": "strict"} if name == "think2seg-rs" else {}
    reward = preset(name, segmenter=seg, **kw)
    text = ("<think>r</think><bbox>[2,2,12,12]</bbox><points>[[4,4]]</points><labels>[1]</labels>"
            if name == "seg-r1" else
            '<think>r</think><answer>```json [{"bbox_2d": [2, 2, 12, 12], "positive_points": [[4, 4], [5, 5]]}] ```</answer>')  # fmt: skip
    prompts = 3
    images = [IMAGES[p % 2].copy() + np.uint8(p) for p in range(prompts) for _ in range(groups)]
    gts = [_truth("box", 2, 2, 12, 12) for _ in images]
    one_stage = FakeSegmenter()
    want = preset(name, segmenter=one_stage, **kw)(
        [text] * len(images), ground_truth=gts, image=images
    )
    got = reward([text] * len(images), ground_truth=gts, image=[im.copy() for im in images])
    assert got == want
    assert seg.encodes == prompts and seg.decodes == prompts and one_stage.calls == prompts


def test_the_segmenter_sees_rgb_unless_asked_to_swap():
    seen = []

    def spy(image, boxes, points, labels=None):
        seen.append(image.copy())
        return fake_masks(image, boxes, points, labels)

    text = "<think>r</think><bbox>[2,2,30,20]</bbox><points>[[4,4]]</points><labels>[1]</labels>"
    gt = _truth("box", 2, 2, 15, 20)
    plain = preset("seg-r1", segmenter=spy)([text], ground_truth=[gt], image=[IMAGES[0]])
    np.testing.assert_array_equal(seen[-1], IMAGES[0])
    swapped = preset("seg-r1", segmenter=spy, swap_rb=True)(
        [text], ground_truth=[gt], image=[IMAGES[0]]
    )
    np.testing.assert_array_equal(seen[-1], IMAGES[0][..., ::-1])
    assert plain != swapped  # the red half is where the masks may grow


@pytest.mark.parametrize("name", ["seg-r1", "think2seg-rs"])
def test_user_mistakes_are_named(name):
    with pytest.raises(TypeError, match="needs segmenter="):
        preset(name)
    reward = preset(
        name, segmenter=FakeSegmenter(), **({"compat": "strict"} if name == "think2seg-rs" else {})
    )
    with pytest.raises(TypeError, match="'image' column"):
        reward(["x"], ground_truth=[np.zeros((H, W), bool)])
    with pytest.raises(
        ValueError, match=r"sample 1: .* has size \[3, 3\] but the image is \[24, 32\]"
    ):
        reward(["x", "y"], ground_truth=[np.zeros((H, W)), np.zeros((3, 3))], image=IMAGES)
    with pytest.raises(ValueError, match="sample 0: the 'image' column must be an"):
        reward(["x"], ground_truth=[np.zeros((H, W))], image=[np.zeros((4,))])


@pytest.mark.parametrize("name", ["seg-r1", "think2seg-rs"])
def test_ground_truth_in_every_format(name, tmp_path):
    from PIL import Image

    from rankreward.metrics import mask_to_rle

    gt = _truth("box", 2, 2, 12, 12)
    png = tmp_path / "gt.png"
    Image.fromarray(gt.astype(np.uint8) * 255).save(png)
    rle = mask_to_rle(gt)
    forms = [gt, gt.astype(np.uint8).tolist(), rle, {"size": rle["size"], "counts": [int(c) for c in
             __import__("rankreward.metrics.rle", fromlist=["x"]).rle_counts(rle)[2]]},
             [[2, 2, 13, 2, 13, 13, 2, 13]], str(png)]  # fmt: skip
    kw = {"compat": "strict"} if name == "think2seg-rs" else {}
    text = ("<think>r</think><bbox>[2,2,12,12]</bbox><points>[[4,4]]</points><labels>[1]</labels>"
            if name == "seg-r1" else
            '<think>r</think><answer>```json [{"bbox_2d": [2, 2, 12, 12], "positive_points": [[4, 4], [5, 5]]}] ```</answer>')  # fmt: skip
    reward = preset(name, segmenter=FakeSegmenter(), **kw)
    scores = reward([text] * len(forms), ground_truth=forms, image=[IMAGES[0]] * len(forms))
    assert len(set(scores)) == 1, scores


@pytest.mark.parametrize("name", ["seg-r1", "think2seg-rs"])
def test_ranked_mask_presets_rank_and_leave_unparsed_out(name):
    kw = {"compat": "strict"} if name == "think2seg-rs" else {}
    reward = preset(name, True, segmenter=FakeSegmenter(), **kw)
    text = ("<think>r</think><bbox>[2,2,12,12]</bbox><points>[[4,4]]</points><labels>[1]</labels>"
            if name == "seg-r1" else
            '<think>r</think><answer>```json [{"bbox_2d": [2, 2, 12, 12], "positive_points": [[4, 4], [5, 5]]}] ```</answer>')  # fmt: skip
    gt = _truth("box", 2, 2, 12, 12)
    out = reward.score([text, "garbage"], [gt, gt], context={"image": IMAGES})
    ranked = [c.name for c in reward.components if c.ranked]
    assert ranked and all(np.isnan(out[c + "_rank"][1]) for c in ranked)
    assert reward.commit() == 1
