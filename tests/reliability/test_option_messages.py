"""A misspelled preset or option names the valid ones and the nearest (issue: errors a user can
act on), instead of Python's "unexpected keyword argument" from an internal class."""

from __future__ import annotations

import pytest

from rankreward.rewards import DrSegReward, preset


def test_a_preset_typo_suggests_the_nearest_name():
    with pytest.raises(
        ValueError, match=r"unknown preset 'segzero' \(did you mean 'seg-zero'\?\); choose from"
    ):
        preset("segzero")


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: preset("drseg", rankd=True),
            r"no Dr. Seg option 'rankd' \(did you mean 'ranked'\?\)",
        ),
        (
            lambda: DrSegReward(iou_treshold=0.3),
            r"'iou_treshold' \(did you mean 'iou_threshold'\?\)",
        ),
        (
            lambda: preset("seg-r1", segmentr=1),
            r"seg-r1 preset has no option 'segmentr' \(did you mean 'segmenter'\?\)",
        ),
        (
            lambda: preset("vlm-r1-ovd", methd="od_ap"),
            r"no option 'methd' \(did you mean 'method'\?\)",
        ),
    ],
)
def test_an_option_typo_lists_the_options(call, message):
    with pytest.raises(TypeError, match=message):
        call()
