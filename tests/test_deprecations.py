"""The deprecated 0.1 paths: each warns (a `FutureWarning` naming the replacement and the
removal release) and forwards to the new object. Nothing else in the project uses them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rankreward._deprecation import REMOVAL_RELEASE

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "old_name, new_name, moved",
    [
        ("rankreward.drseg", "rankreward.rewards.recipes.drseg",
         {"completion_text", "extract_answer", "structure_ok"}),  # to rankreward.text
        ("rankreward.service", "rankreward.serve", set()),
        ("rankreward.evaluation.segmenters", "rankreward.segment", set()),
    ],
)  # fmt: skip
def test_importing_a_moved_module_warns_and_forwards(old_name, new_name, moved):
    import importlib

    done = subprocess.run(
        [sys.executable, "-W", "error::FutureWarning", "-c", f"import {old_name}"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert new_name in done.stderr and REMOVAL_RELEASE in done.stderr
    sys.modules.pop(old_name, None)
    with pytest.warns(FutureWarning, match=re.escape(new_name)):
        old = importlib.import_module(old_name)
    new = importlib.import_module(new_name)
    for name in old.__all__:
        assert name in moved or getattr(old, name) is getattr(new, name), name


@pytest.mark.parametrize(
    "module, old, new",
    [
        ("rankreward.adapters.trl", "DrSegRewardFunctions", "RewardFunctions"),
        ("rankreward.adapters.trl", "PresetRewardFunctions", "RewardFunctions"),
        ("rankreward.evaluation", "ReleasedAnswer", "EvalAnswer"),
        ("rankreward.evaluation", "read_released_answer", "read_eval_answer"),
        ("rankreward.evaluation.protocols", "ReleasedAnswer", "EvalAnswer"),
        ("rankreward.evaluation.protocols", "read_released_answer", "read_eval_answer"),
        ("rankreward.rewards.recipes.vlmr1", "REC_COLUMNS", "REC_CONTEXT"),
        ("rankreward.rewards.recipes.vlmr1.reward", "REC_COLUMNS", "REC_CONTEXT"),
    ],
)
def test_renamed_names_warn_and_forward(module, old, new):
    import importlib

    mod = importlib.import_module(module)
    with pytest.warns(FutureWarning, match=rf"{re.escape(old)} is deprecated: use .*{new}.*"
                      rf"{re.escape(REMOVAL_RELEASE)}"):  # fmt: skip
        got = getattr(mod, old)
    assert got is getattr(mod, new)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        mod.nothing  # noqa: B018


DEPRECATED = re.compile(
    r"(from|import) rankreward\.(drseg|service)\b|rankreward\.(drseg|service)\.\w|\bDrSegRewardFunctions\b|\bPresetRewardFunctions\b"
    r"|\bread_released_answer\b|evaluation import[^\n]*\bReleasedAnswer\b|\bREC_COLUMNS\b"
    r"|rankreward\.evaluation\.segmenters\b"
)


def test_nothing_else_uses_a_deprecated_path():
    """README, docs, examples, benchmarks and tests import and call the new paths (this file
    and the changelog name the old ones on purpose; prose may say where a name used to be)."""
    files = [ROOT / "README.md"]
    for folder in ("docs", "examples", "benchmarks", "tests"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".md", ".sh"}]
    here = Path(__file__).resolve()
    found = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in files
        if p.resolve() != here
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if DEPRECATED.search(line)
    ]
    assert not found, "\n".join(found)


def test_renamed_keywords_warn_and_forward():
    import numpy as np

    from rankreward.evaluation import evaluate_count
    from rankreward.rewards import DrSegReward
    from rankreward.testing.synthetic import synthetic_batch

    with pytest.warns(FutureWarning, match="strict= is deprecated: use compat='strict'"):
        old = evaluate_count([{"count": 1}], ["x"], strict=True, protocol="rankreward")
    assert old.metrics == evaluate_count([{"count": 1}], ["x"], compat="strict",
                                         protocol="rankreward").metrics  # fmt: skip
    with pytest.warns(FutureWarning, match="weight key 'r1' is deprecated: use 'x1'"):
        old = DrSegReward(weights={"r1": 2.0})
    assert old.weights == DrSegReward(weights={"x1": 2.0}).weights
    texts, gts = synthetic_batch(8, np.random.default_rng(0))
    np.testing.assert_array_equal(
        old.score(texts, gts)["reward"],
        DrSegReward(weights={"x1": 2.0}).score(texts, gts)["reward"],
    )


def test_the_evaluation_command_s_strict_flag_warns_and_forwards(tmp_path, capsys):
    from rankreward.evaluation.cli import main

    with pytest.raises(SystemExit, match="--compat strict needs --protocol rankreward"):
        main(
            [
                "--strict",
                "--task",
                "count",
                "--dataset",
                str(tmp_path / "d.jsonl"),
                "--completions",
                str(tmp_path / "c.jsonl"),
                "--output-dir",
                str(tmp_path / "out"),
            ]
        )
    assert "--strict is deprecated: use --compat strict" in capsys.readouterr().err
