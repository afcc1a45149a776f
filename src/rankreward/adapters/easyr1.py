"""EasyR1 adapter: the Dr. Seg reward as an EasyR1 batch reward function.

EasyR1 (the trainer Seg-Zero, VisionReasoner and the released Dr. Seg code are built on) loads
``worker.reward.reward_function=path/to/file.py:name`` in its reward manager
(``verl/workers/reward/function.py``, ``AutoRewardManager``): the file's ``REWARD_TYPE``
(``"batch"`` here) and ``REWARD_NAME`` are read, and the function is called as
``name(reward_inputs, **worker.reward.reward_function_kwargs)`` where ``reward_inputs`` is a
list of ``{"response", "response_length", "ground_truth"}`` (responses decoded without special
tokens). It must return one dict per input with ``overall`` (the scalar reward, placed on the
last response token) and any other numbers, which EasyR1 averages and logs as
``reward/<key>``.

How EasyR1 calls it, and what this adapter does about it:

- **Training**: one reward-manager Ray actor scores each step's rollout batch in one call
  (``data.rollout_batch_size x worker.rollout.n`` responses); with
  ``algorithm.online_filtering=true`` it scores every generation try of a step instead
  (``mini_rollout_batch_size x n`` each, if set). Calls of that size (``rollout_size``) are
  ranked against the window and staged, and the window commits every ``rollout_size`` rows:
  once per step, or once per try under online filtering (EasyR1 gives reward functions no step
  signal, so later tries of a step rank against a window that already holds the earlier ones).
- **Validation**: a second reward-manager actor (its own process, same configuration) scores
  the validation set. Calls of any other size are validation: ranked against the training
  window without staging (``stage=False``), so validation never moves the training window.
  Keep ``data.val_batch_size x val n`` different from ``rollout_size``; EasyR1's default
  validation batch (1024 prompts) is.
- **Sharing**: Ray runs in both actors, so by default (``share="auto"``) the window lives in a
  Ray named actor that both use; ``share="local"`` keeps one window per process (validation
  then ranks against a window that never fills).
- **Checkpoints**: with ``checkpoint_dir`` (EasyR1's ``trainer.save_checkpoint_path``) the
  window is saved after every commit as ``<checkpoint_dir>/rankreward/step_<k>.npz``; with
  ``resume="auto"`` (default) a run that EasyR1 resumes from ``global_step_N`` (its
  ``checkpoint_tracker.json``) loads ``step_N.npz``, the window as it was when step N's
  checkpoint was written. Without online filtering, k counts training steps.

``examples/easyr1_reward.py`` is the file to pass and ``examples/easyr1_drseg.yaml`` the config
fragment. Malformed responses score 0 format with their reasons in ``num_problems`` (never an
exception inside EasyR1's actor); malformed configuration or ground truth raises.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..rewards.rows import score_rows
from ._shared import shared_reward

__all__ = ["REWARD_NAME", "REWARD_TYPE", "STATE_DIR", "compute_score", "resume_file"]

#: What EasyR1 reads from the reward file.
REWARD_NAME = "drseg"
REWARD_TYPE = "batch"
#: The folder under ``checkpoint_dir`` that holds the per-step window states.
STATE_DIR = "rankreward"
#: EasyR1's checkpoint tracker (``verl/utils/checkpoint/checkpoint_manager.py``).
TRACKER = "checkpoint_tracker.json"

# The state to resume from is decided once per process and checkpoint folder, at the first
# call: EasyR1 writes new checkpoints (and trackers) while this process keeps scoring.
_resume_decided: dict[str, str | None] = {}


def resume_file(checkpoint_dir: str | os.PathLike[str]) -> Path | None:
    """The window state matching EasyR1's last checkpoint in ``checkpoint_dir``, or ``None``
    when EasyR1 has no checkpoint there (a fresh run). O(1).

    Raises ``FileNotFoundError`` when EasyR1 will resume from ``global_step_N`` but the window
    of step N is missing (resuming with an empty window would silently change every rank).

    Examples:
        >>> import tempfile
        >>> resume_file(tempfile.mkdtemp()) is None
        True
    """
    root = Path(checkpoint_dir)
    tracker = root / TRACKER
    if not tracker.exists():
        return None
    try:
        step = json.loads(tracker.read_text(encoding="utf-8"))["last_global_step"]
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise ValueError(f"last_global_step is {step!r}, not a step number")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        detail = f"no {e}" if isinstance(e, KeyError) else str(e)
        raise ValueError(
            f"{tracker}: not EasyR1's checkpoint tracker ({detail}); expected "
            '{"last_global_step": N}'
        ) from None
    path = root / STATE_DIR / f"step_{step}.npz"
    if not path.exists():
        raise FileNotFoundError(
            f"EasyR1 resumes from global_step_{step} ({tracker}) but {path} is missing: the "
            "window of that step was not saved (pass resume=False to start a new window)"
        )
    return path


def _inputs(reward_inputs: Any) -> tuple[list[str], list[Any]]:
    if isinstance(reward_inputs, (str, bytes, Mapping)) or not isinstance(reward_inputs, Sequence):
        raise TypeError("reward_inputs must be a list of {'response', 'ground_truth'} dicts")
    texts, gts = [], []
    for k, item in enumerate(reward_inputs):
        if not isinstance(item, Mapping) or "response" not in item or "ground_truth" not in item:
            raise ValueError(f"reward_inputs[{k}] must have 'response' and 'ground_truth'")
        texts.append(item["response"])
        gts.append(item["ground_truth"])
    return texts, gts


def compute_score(
    reward_inputs: Sequence[Mapping[str, Any]],
    *,
    rollout_size: int,
    checkpoint_dir: str | None = None,
    resume: bool | str = "auto",
    share: str = "auto",
    actor_name: str | None = None,
    strict: bool | None = None,
    weights: dict[str, float] | None = None,
    preset: str | None = None,
    ranked: bool | None = None,
    task_key: str | None = None,
    **thresholds: Any,
) -> list[dict[str, float]]:
    """Score one EasyR1 reward-manager call (``REWARD_TYPE = "batch"``).

    Args:
        reward_inputs: EasyR1's list of ``{"response", "response_length", "ground_truth"}``;
            the ground truth is the solution JSON (or a list of ``{"bbox_2d", "point_2d"}``).
        rollout_size: the size of EasyR1's training reward calls: ``data.rollout_batch_size *
            worker.rollout.n`` (with online filtering and ``mini_rollout_batch_size``:
            ``mini_rollout_batch_size * n``). Other sizes are validation.
        checkpoint_dir: EasyR1's ``trainer.save_checkpoint_path``: window states go to its
            ``rankreward/`` folder after every commit.
        resume: ``"auto"``: load the state of EasyR1's last checkpoint step if there is one;
            ``False``: start a new window; a path: load that state file.
        share: one window for both reward actors (``"auto"``: a Ray named actor when Ray
            runs) or one per process (``"local"``).
        actor_name: the Ray named actor's name (default: the package's).
        strict: as `DrSegReward`.
        weights: as `DrSegReward`.
        preset: score with this recipe instead (see `rankreward.rewards.preset`); its
            components come back under their own keys (NaN where one does not apply).
        ranked: the preset's raw or ranked form.
        task_key: a reward-input key holding each sample's task (one window per task).
        **thresholds: as `AccuracyConfig` (with ``preset``: the recipe's options).

    Returns one dict per input: ``overall`` (the Dr. Seg reward) and every component
    (``format``, ``look``, ``non_repeat``, x1..x3, r1..r3, ``num_pred``, ``num_problems``).

    Complexity: one vectorised `DrSegReward.score` pass, O(total text + matching).

    Examples:
        >>> gt = '[{"bbox_2d": [0, 0, 99, 99], "point_2d": [50, 50]}]'
        >>> text = ('<think><look>cup</look></think><answer>[{"bbox_2d": [0, 0, 99, 99], '
        ...         '"point_2d": [50, 50]}]</answer>')
        >>> out = compute_score([{"response": text, "response_length": 30, "ground_truth": gt}],
        ...                     rollout_size=1, share="local", resume=False)
        >>> out[0]["overall"], out[0]["x1"], out[0]["x1_rank"]
        (8.0, 1.0, 1.0)
    """
    if not isinstance(rollout_size, int) or isinstance(rollout_size, bool) or rollout_size < 1:
        raise ValueError(
            f"rollout_size must be a positive int (data.rollout_batch_size * worker.rollout.n), "
            f"got {rollout_size!r}"
        )
    texts, gts = _inputs(reward_inputs)
    state_file = resume_from = None
    if checkpoint_dir is not None:
        state_file = str(Path(checkpoint_dir) / STATE_DIR / "step_{step}.npz")
        if resume == "auto":
            key = str(Path(checkpoint_dir).resolve())
            if key not in _resume_decided:
                found = resume_file(checkpoint_dir)
                _resume_decided[key] = None if found is None else str(found)
            resume_from = _resume_decided[key]
    if resume not in ("auto", False, None, True):
        resume_from = str(resume)
    reward = shared_reward(commit_every=rollout_size, share=share, actor_name=actor_name,
                           state_file=state_file, resume_from=resume_from, strict=strict,
                           weights=weights, preset=preset, ranked=ranked, task_key=task_key,
                           **thresholds)  # fmt: skip
    training = len(texts) == rollout_size
    columns = _columns(reward_inputs)
    return score_rows(reward, texts, gts, columns, score_key="overall", stage=training)


def _columns(reward_inputs: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Every other key of the reward inputs as a per-sample column (a preset's task and
    context columns; EasyR1 versions that pass more than response and ground truth)."""
    keys = dict.fromkeys(k for item in reward_inputs for k in item)
    return {k: [item.get(k) for item in reward_inputs] for k in keys
            if k not in ("response", "ground_truth")}  # fmt: skip
