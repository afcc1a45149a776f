"""Wrong user input (ground truths, columns, state files, environment variables, CLI files and
arguments) raises a typed error at the first call naming what and where; nothing is silently
ignored (issue 25). Model output is covered by test_hostile_recipes.py."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from rankreward.adapters._shared import ablation_from_env, env_bool, env_int
from rankreward.adapters.openrlhf import reward_func_from_env
from rankreward.rewards import (
    AnswerReader,
    Component,
    ComponentReward,
    LocalWindows,
    MatchedIoU,
    preset,
)

ANSWER = '<answer>[{"bbox_2d": [0, 0, 1000, 1000]}]</answer>'


def _framed(frame: str = "rel1000") -> ComponentReward:
    reader = AnswerReader(tag="answer", frame=frame)
    return ComponentReward([Component("iou", MatchedIoU())], reader=reader)


def test_the_readers_frame_maps_answers_with_each_samples_image_size():
    reward = _framed()
    out = reward.score([ANSWER, ANSWER], [[[0, 0, 640, 480]], [[0, 0, 320, 240]]],
                       context={"image_size": [(640, 480), (320, 240)]})  # fmt: skip
    assert out["iou"].tolist() == [1.0, 1.0]  # was 0.173: the frame was never applied
    # absolute answers with the size the model saw are mapped too
    seen = _framed("absolute").score(['<answer>[{"bbox_2d": [0, 0, 420, 420]}]</answer>'],
                                     [[[0, 0, 840, 840]]],
                                     context={"image_size": [(840, 840)], "seen_size": [(420, 420)]})  # fmt: skip
    assert seen["iou"].tolist() == [1.0]


def test_a_frame_without_sizes_or_with_bad_sizes_raises_naming_it():
    with pytest.raises(TypeError, match=r"frame='rel1000'.*'image_size' column"):
        _framed()([ANSWER], ground_truth=[[[0, 0, 640, 480]]])
    with pytest.raises(ValueError, match="sample 1: image_size must be two positive"):
        _framed().score([ANSWER] * 2, [[[0, 0, 1, 1]]] * 2,
                        context={"image_size": [(640, 480), (0, -5)]})  # fmt: skip
    with pytest.raises(ValueError, match="2 completions but 1 image_size"):
        _framed().score([ANSWER] * 2, [[[0, 0, 1, 1]]] * 2, context={"image_size": [(6, 4)]})


@pytest.mark.parametrize(
    ("gt", "match"),
    [
        ([[np.nan, 0, 1, 1]], "sample 0 has a box that is not 4 finite numbers"),
        ([0, 0, 1], r"sample 0 must be a JSON string, an Answer or xyxy boxes"),
        ({"boxes": [[0, 0, 1, 1]]}, "got dict"),
        ("not json", "ground truth of sample 0 is unreadable"),
    ],
)
def test_matched_iou_names_the_bad_ground_truth(gt, match):
    with pytest.raises(ValueError, match=match):
        MatchedIoU()([AnswerReader()(ANSWER)], [gt])


def test_a_component_returning_text_is_named():
    reward = ComponentReward([Component("count", lambda a, g: ["3"] * len(a))])
    with pytest.raises(
        TypeError, match=r"component 'count' must return one float .*str '3'.*sample 0"
    ):
        reward(["x"], ground_truth=[None])


def test_seg_zero_rejects_a_ground_truth_in_another_recipes_form():
    drseg_gt = '[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]'
    good = "<box>(0,0),(9,9)</box><points>(2,2),(5,5)</points>"
    with pytest.raises(ValueError, match="ground truth of sample 1 has no <box>"):
        preset("seg-zero")(["<answer>{}</answer>"] * 2, ground_truth=[good, drseg_gt])


@pytest.mark.parametrize(
    ("solution", "match"),
    [
        ('<answer>```json[{"bbox_2d": [50, 10, 10, 50], "label": "a"}]```</answer>', "x1 <= x2"),
        ("<answer>```json [{]```</answer>", "not a JSON list"),  # an empty block is no GT
        ('<answer>```json[{"bbox_2d": [0, 0, 5, 5]}]```</answer>', "needs a label"),
    ],
)
def test_vlm_r1_ovd_names_the_bad_solution(solution, match):
    good = '<answer>```json[{"bbox_2d": [0, 0, 5, 5], "label": "a"}]```</answer>'
    with pytest.raises(ValueError, match=f"solution of sample 1: .*{match}"):
        preset("vlm-r1-ovd").score(["<answer>None</answer>"] * 2, [good, solution])


# ---------------------------------------------------------------- state files


def _scored(reward: ComponentReward, gts: list) -> ComponentReward:
    reward.score(["<think>a</think><answer>x</answer>"] * len(gts), gts)
    reward.commit()
    return reward


def test_a_state_of_another_reward_raises_naming_both(tmp_path):
    drseg = _scored(preset("drseg"), ['[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]'])
    path = tmp_path / "drseg.npz"
    drseg.save(path)
    segzero = preset("seg-zero", ranked=True)
    with pytest.raises(ValueError, match=r"drseg.npz was saved by recipe 'drseg' .*x1.*"
                                         r"cannot be loaded into recipe 'seg-zero'"):  # fmt: skip
        segzero.load(path)
    assert segzero.windows.keys() == []  # nothing was loaded
    # resumed before the reward is known: raises when the windows are handed to it
    with pytest.raises(ValueError, match="saved by recipe 'drseg'"):
        preset("seg-zero", ranked=True, windows=LocalWindows(resume_from=path))
    # the same reward loads its own file exactly
    again = preset("drseg")
    again.load(path)
    assert again.state_dict().keys() == drseg.state_dict().keys()
    # one window set cannot serve two different rewards
    shared = LocalWindows()
    preset("seg-zero", ranked=True, windows=shared)
    with pytest.raises(ValueError, match="cannot share them"):
        preset("perception-r1", ranked=True, windows=shared)


def test_a_state_without_an_owner_is_checked_by_its_window_names():
    state = _scored(
        preset("drseg"), ['[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]']
    ).state_dict()
    del state["__owner__"]  # a file from before owners were recorded
    preset("drseg").load_state_dict(state)
    with pytest.raises(ValueError, match="holds the window '/accuracy'"):
        preset("seg-zero", ranked=True).load_state_dict(state)


@pytest.mark.parametrize("counts", [{"commits": -1, "pending": 0}, {"commits": 1.5, "pending": 0},
                                    {"commits": 1}])  # fmt: skip
def test_bad_counts_in_a_state_raise(counts):
    windows = LocalWindows()
    with pytest.raises(ValueError, match="counts must be non-negative integers"):
        windows.load_state_dict({"__counts__": counts})
    assert windows.commits == 0


def test_a_task_key_with_a_nul_raises():
    reward = preset("seg-zero", ranked=True, task_key="task")
    gt = "<box>(0,0),(9,9)</box><points>(2,2),(5,5)</points>"
    with pytest.raises(ValueError, match="task key of sample 1 holds a NUL"):
        reward(["a", "b"], ground_truth=[gt, gt], task=["coco", "coco\x00"])


def test_pickling_while_other_threads_score_new_tasks():
    reward = preset("seg-zero", ranked=True, task_key="task")
    gt = "<box>(0,0),(9,9)</box><points>(2,2),(5,5)</points>"
    text = '<think>a</think> <answer>{"bbox": [0, 0, 9, 9], "points_1": [2, 2], "points_2": [5, 5]}</answer>'
    errors: list[BaseException] = []
    stop = threading.Event()

    def score(worker: int) -> None:
        k = 0
        while not stop.is_set():
            k += 1
            try:
                reward([text], ground_truth=[gt], task=[f"t{worker}-{k}"])
            except BaseException as e:  # any error fails the test
                errors.append(e)
                return

    threads = [threading.Thread(target=score, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(30):
            copy = pickle.loads(pickle.dumps(reward))
            assert copy.windows.keys()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors


def test_forgetting_the_commit_warns_after_the_second_step():
    reward = preset("seg-zero", ranked=True)
    gt = "<box>(0,0),(9,9)</box><points>(2,2),(5,5)</points>"
    text = '<think>a</think> <answer>{"bbox": [0, 0, 9, 9], "points_1": [2, 2], "points_2": [5, 5]}</answer>'
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for step in (0, 0, 1):  # two steps: no warning yet
            reward([text], ground_truth=[gt], trainer_state=SimpleNamespace(global_step=step))
    with pytest.warns(RuntimeWarning, match="3 optimizer steps .* RankNormalizerCallback"):
        reward([text], ground_truth=[gt], trainer_state=SimpleNamespace(global_step=2))
    reward.commit()  # committed each step: never warns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for step in range(3, 8):
            reward([text], ground_truth=[gt], trainer_state=SimpleNamespace(global_step=step))
            reward.commit()


# ---------------------------------------------------------------- environment


def test_switch_variables_are_parsed_strictly():
    assert env_bool({"RANKREWARD_RANKED": "True"}, "RANKED") is True
    assert env_bool({"RANKREWARD_RANKED": " ON "}, "RANKED") is True
    assert env_bool({"RANKREWARD_LOOK": "off"}, "LOOK") is False
    assert ablation_from_env({"RANKREWARD_LOOK": "off"}) == {"look": False}  # was: kept look
    with pytest.raises(ValueError, match="RANKREWARD_RANKED='maybe'"):
        env_bool({"RANKREWARD_RANKED": "maybe"}, "RANKED")
    with pytest.raises(ValueError, match="RANKREWARD_COMMIT_EVERY='-3': expected a positive"):
        env_int({"RANKREWARD_COMMIT_EVERY": "-3"}, "COMMIT_EVERY")
    reward = reward_func_from_env({"RANKREWARD_COMMIT_EVERY": "8", "RANKREWARD_PRESET": "seg-zero",
                                   "RANKREWARD_RANKED": "True"})  # fmt: skip
    assert any(c.ranked for c in reward.reward.components)  # was: silently unranked


# ---------------------------------------------------------------- command lines


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rankreward.cli", *args],
                          capture_output=True, text=True)  # fmt: skip


def test_score_names_the_file_and_line(tmp_path):
    good = tmp_path / "g.jsonl"
    good.write_text('"[]"\n"[]"\n')
    bad = tmp_path / "c.jsonl"
    bad.write_text('"<answer>[]</answer>"\n\n{"completion": 7}\n')
    out = _cli("score", "--completions", str(bad), "--ground-truth", str(good))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert f"{bad}:3: a completion must be str or list, got int 7" in out.stderr
    missing = _cli(
        "score", "--completions", str(tmp_path / "none.jsonl"), "--ground-truth", str(good)
    )
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "none.jsonl: cannot open" in missing.stderr


def test_eval_validates_limit_and_completion_rows(tmp_path):
    from rankreward.evaluation.cli import parse_args

    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--tiny", "--limit", "-1"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("content", ["{not json", '{"step": 3}', '{"last_global_step": "3"}'])
def test_a_corrupt_easyr1_tracker_names_the_file(tmp_path, content):
    from rankreward.adapters.easyr1 import TRACKER, resume_file

    (tmp_path / TRACKER).write_text(content)
    with pytest.raises(ValueError, match=r"checkpoint_tracker.json: not EasyR1's checkpoint"):
        resume_file(tmp_path)


@pytest.mark.parametrize("solution", ["[0, 0, 1]", "abc", "[0, 0, 'a', 1]", "[0, 0, 1e999, 1]"])
def test_perception_r1_names_the_bad_solution(solution):
    with pytest.raises(ValueError, match=r"solution of sample 1 must be \[x1, y1, x2, y2\]"):
        preset("perception-r1").score(["[1, 2, 3, 4]"] * 2, ["[0, 0, 5, 5]", solution])
