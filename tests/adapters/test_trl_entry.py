"""One TRL entry point for every reward: functions and callbacks together, the ground-truth
column checked at trainer start (before any generation), and the README's complete script."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("which", ["drseg", "preset", "custom"])
def test_one_entry_point_for_every_reward(which):
    pytest.importorskip("trl")
    from rankreward.adapters.trl import RankNormalizerCallback, trl_rewards
    from rankreward.rewards import Component, ComponentReward, DrSegReward

    if which == "drseg":
        rewards, want = (
            trl_rewards(),
            ["drseg_format", "drseg_look", "drseg_accuracy", "drseg_non_repeat"],
        )
    elif which == "preset":
        rewards, want = (
            trl_rewards("perception-r1", ranked=True),
            ["perception_r1_grounding", "perception_r1_format"],
        )
    else:
        custom = ComponentReward(
            [Component("n", lambda a, g: [float(len(x)) for x in a], ranked=True)], name="length"
        )
        rewards, want = trl_rewards(custom), ["length_n"]
    kwargs = rewards.trainer_kwargs()
    assert [f.__name__ for f in kwargs["reward_funcs"]] == want
    assert len(kwargs["callbacks"]) == 1 and isinstance(
        kwargs["callbacks"][0], RankNormalizerCallback
    )
    assert kwargs["callbacks"][0].reward is rewards.reward
    with pytest.raises(TypeError, match="pass them to preset"):
        trl_rewards(DrSegReward(), ranked=True)


def test_a_wrong_ground_truth_column_stops_the_trainer_before_generation(tmp_path):
    pytest.importorskip("trl")
    import datasets
    from trl import GRPOConfig, GRPOTrainer

    from rankreward.adapters.trl import trl_rewards
    from rankreward.rewards.recipes.drseg import build_messages
    from rankreward.testing.synthetic import synthetic_shapes
    from rankreward.testing.tiny_vlm import build_tiny_qwen2_5_vl, load_image_only_processor

    model = build_tiny_qwen2_5_vl(tmp_path / "m")
    rows = synthetic_shapes(4, 56, 0)
    seg_zero_truth = "<box>(1,2),(30,40)</box><points>(5,6),(7,8)</points>"
    ds = datasets.Dataset.from_list([{"prompt": build_messages(r["question"]), "image": r["image"],
                                      "solution": seg_zero_truth} for r in rows])  # fmt: skip
    rewards = trl_rewards("drseg", distributed=False)
    calls = []
    rewards.reward.score = lambda *a, **k: calls.append(1)  # never reached
    config = GRPOConfig(output_dir=str(tmp_path / "run"), max_steps=1, num_generations=4,
                        per_device_train_batch_size=4, max_completion_length=8, report_to="none",
                        use_cpu=True, bf16=False)  # fmt: skip
    trainer = GRPOTrainer(model=str(model), args=config, train_dataset=ds,
                          processing_class=load_image_only_processor(model), **rewards.trainer_kwargs())  # fmt: skip
    del rewards.reward.score  # the check scores a probe with the real reward
    with pytest.raises(
        ValueError,
        match=r"drseg reward cannot read row 0 of the 'solution' column .*presets that can: \['seg-zero'",
    ):
        trainer.train()
    assert calls == []
    missing = datasets.Dataset.from_list(
        [{"prompt": build_messages("x"), "image": rows[0]["image"], "answer": "[]"}]
    )
    trainer = GRPOTrainer(model=str(model), args=config, train_dataset=missing,
                          processing_class=load_image_only_processor(model),
                          **trl_rewards("drseg", distributed=False).trainer_kwargs())  # fmt: skip
    with pytest.raises(
        ValueError, match=r"no 'solution' column .*its columns: \['answer', 'image'"
    ):
        trainer.train()


def test_the_readme_script_is_the_example_and_runs(tmp_path, capsys):
    pytest.importorskip("trl")
    readme = (ROOT / "README.md").read_text()
    script = (ROOT / "examples" / "trl_minimal.py").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    assert script in blocks, "the README's complete TRL script differs from examples/trl_minimal.py"
    spec = importlib.util.spec_from_file_location(
        "trl_minimal", ROOT / "examples" / "trl_minimal.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--tiny", "--output-dir", str(tmp_path / "run"), "--max-steps", "2"])
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    logged = eval(printed)  # the dict the script prints
    assert np.isfinite(logged["drseg/x1_rank"]) and "drseg/num_problems" in logged
