"""The reward service's state machine: one reward, the windows it already has, one step
counter (their commits), request ids remembered so a retry never stages twice. No HTTP here:
`rankreward.serve.app` serves it, tests and embedders call it directly.
"""

from __future__ import annotations

import collections
import math
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..normalize.state import latest_state, step_path
from ..normalize.windows import Windows
from ..rewards.rows import score_rows
from ..segment.transport import unpack_images
from ..text import split_response

__all__ = ["RequestError", "RewardService", "check_writable", "json_floats"]


class RequestError(ValueError):
    """A request the service refuses: ``status`` is the HTTP status, the message says why
    (the app answers ``{"error": message}`` with that status).

    Examples:
        >>> e = RequestError(409, "no --state-dir: nothing to save to")
        >>> e.status, str(e)
        (409, 'no --state-dir: nothing to save to')
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_writable(folder: Path) -> None:
    """``ValueError`` naming ``folder`` unless state files can be written there (created if
    missing): a bad ``--state-dir`` fails at start, not at the first commit. O(1)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".rankreward-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"--state-dir {folder}: cannot write state files there "
                         f"({e.strerror or e})") from None  # fmt: skip


def json_floats(values: Any) -> list[float | None]:
    """Per-sample floats for JSON: NaN (a term that does not apply) becomes null."""
    return [None if not math.isfinite(v) else v for v in np.asarray(values, np.float64).tolist()]


class RewardService:
    """The service's state: one reward, its windows, counters; thread-safe. The HTTP app
    (`build_app`) and tests call these methods.

    Args:
        reward: a `rankreward.rewards.ComponentReward` (any preset, `DrSegReward` too); the
            service uses its windows (any `Windows` host) and sets how they count steps.
        name: the preset's name (logged keys are ``<name>_<component>`` on the OpenRLHF path).
        state_dir: per-step state files ``step_N.npz`` (written by the windows): the newest
            is loaded at start, a file is written at every commit and at shutdown; a folder
            that cannot be written fails here, not at the first commit.
        commit_every: commit every this many staged samples (else ``POST /commit``).
        max_rows: the most completions one request may carry.
        image_root: the folder an ``image`` column's paths are read from (never outside it);
            ``None``: requests send their images in ``images_b64`` (`rankreward.segment.transport`).

    A mask preset (``seg-r1``, ``think2seg-rs``) built with its segmenter runs here, on the
    service's device: reward workers without a GPU send completions, masks (RLE) and images
    (each distinct image once per request, or a path) and get the breakdown back.

    Examples:
        >>> from rankreward.rewards import preset
        >>> service = RewardService(preset("perception-r1"), name="perception-r1")
        >>> out = service.score({"completions": ["<|box_start|>(0,0),(10,10)<|box_end|>"],
        ...                      "ground_truth": ["[0, 0, 10, 20]"]})
        >>> out["rewards"], out["components"]["grounding"]
        ([1.25], [0.25])
    """

    def __init__(
        self,
        reward: Any,
        *,
        name: str = "reward",
        state_dir: str | os.PathLike[str] | None = None,
        commit_every: int | None = None,
        max_rows: int = 16384,
        remember: int = 4096,
        image_root: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(reward.windows, Windows):
            raise TypeError("the service needs a reward whose windows keep the Windows protocol")
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows}")
        self.reward, self.name, self.max_rows = reward, name, max_rows
        self.image_root = None if image_root is None else Path(image_root)
        if self.image_root is not None and not self.image_root.is_dir():
            raise ValueError(f"image_root {str(self.image_root)!r} is not a folder")
        self.state_dir = None if state_dir is None else Path(state_dir)
        self.commit_every = commit_every
        resume, step = (None, 0)
        template = None
        if self.state_dir is not None:
            check_writable(self.state_dir)
            resume, step = latest_state(self.state_dir)
            template = str(self.state_dir / "step_{step}.npz")
        windows = reward.windows
        windows.configure_steps(commit_every=commit_every, state_file=template)
        if resume is not None:
            windows.load(resume)
            if windows.commits < step:  # a file of a release that did not count every commit
                windows.configure_steps(start_step=step)
        self.resumed_from = resume
        self._lock = threading.RLock()
        self._answers: collections.OrderedDict[str, dict] = collections.OrderedDict()
        self._remember = remember
        self.rows = 0  # completions scored, for the metrics

    # ------------------------------------------------------------------ scoring
    def _batch(self, payload: Mapping[str, Any], texts_key: str) -> int:
        texts = payload.get(texts_key)
        if not isinstance(texts, list):
            raise RequestError(422, f"{texts_key!r} must be a list, got {type(texts).__name__}")
        if len(texts) > self.max_rows:
            raise RequestError(
                422, f"{len(texts)} rows is over this service's limit of {self.max_rows} per "
                "request (--max-rows): split the batch"
            )  # fmt: skip
        return len(texts)

    def score(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /score``. O(the reward's cost)."""
        if not isinstance(payload, Mapping):
            raise RequestError(422, "the body must be a JSON object")
        request_id = payload.get("request_id")
        if request_id is not None:
            with self._lock:
                if str(request_id) in self._answers:
                    return self._answers[str(request_id)]
        n = self._batch(payload, "completions")
        gt_key = self.reward.ground_truth_key
        gts = payload.get("ground_truth", payload.get(gt_key))
        if not isinstance(gts, list):
            raise RequestError(422, f"'ground_truth' (or {gt_key!r}) must be a list of {n}")
        stage = payload.get("stage", True)
        if not isinstance(stage, bool):
            raise RequestError(422, f"'stage' must be true or false, got {stage!r}")
        skip = {"completions", "ground_truth", gt_key, "stage", "request_id", "images_b64"}
        columns = {k: v for k, v in payload.items() if k not in skip}
        for key, column in columns.items():
            if not isinstance(column, list) or len(column) != n:
                raise RequestError(422, f"column {key!r} must be a list of {n} values")
        table = payload.get("images_b64")
        if table is not None and not (
            isinstance(table, list) and all(isinstance(t, str) for t in table)
        ):
            raise RequestError(422, "'images_b64' must be a list of base64 strings")
        if "image" in columns and "image?" in getattr(self.reward.recipe, "context", ()):
            try:
                columns["image"] = unpack_images(columns["image"], table, self.image_root)
            except ValueError as err:
                raise RequestError(422, f"'image': {err}") from None
        with self._lock:  # the id check and the staging together: a retry never stages twice
            if request_id is not None and str(request_id) in self._answers:
                return self._answers[str(request_id)]
            out = self.reward.score(payload["completions"], gts, self.reward.tasks_from(columns),
                                    context=columns, stage=stage)  # fmt: skip
            answer = {
                "rewards": json_floats(out["reward"]),
                "components": {c: json_floats(out[c]) for c in self.reward.logged_keys},
                "problems": out["problems"],
                "step": self.step_now(),
            }
            self.rows += n
            if request_id is not None:
                self._answers[str(request_id)] = answer
                while len(self._answers) > self._remember:
                    self._answers.popitem(last=False)
            return answer

    def score_openrlhf(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /openrlhf``: OpenRLHF's remote reward protocol. O(the reward's cost)."""
        if not isinstance(payload, Mapping):
            raise RequestError(422, "the body must be a JSON object")
        n = self._batch(payload, "query")
        prompts, labels = payload.get("prompts"), payload.get("labels")
        if not isinstance(prompts, list) or not isinstance(labels, list):
            raise RequestError(422, "'prompts' and 'labels' must be lists")
        if not (len(prompts) == len(labels) == n):
            raise RequestError(422, f"{n} queries, {len(prompts)} prompts, {len(labels)} labels")
        texts = [
            split_response(str(q), str(p)) for q, p in zip(payload["query"], prompts, strict=True)
        ]
        with self._lock:
            rows = score_rows(self.reward, texts, labels)
            self.rows += n
        rewards = [row.pop("score") for row in rows]
        top = self.reward.max_reward or 1.0
        prefix = self.name.replace("-", "_")
        logs = {
            f"{prefix}_{k}": json_floats([row[k] for row in rows])
            for k in (rows[0] if rows else {})
        }
        return {"rewards": rewards, "scores": [r / top for r in rewards], "extra_logs": logs}

    # ------------------------------------------------------------------ steps and state
    def step_now(self) -> int:
        """The step: the windows' commit count (the one step counter). O(1)."""
        return int(self.reward.windows.commits)

    def commit(self) -> dict[str, Any]:
        """``POST /commit``: append every window's staged values (one training step); with a
        state dir, the windows write ``step_N.npz`` first (a failed write commits nothing,
        so a retry commits once). O(windows x n)."""
        with self._lock:
            if self.commit_every is not None:
                raise RequestError(409, "this service commits every --commit-every samples itself")
            committed = self.reward.commit()
            return {"committed": committed, "step": self.step_now()}

    def save(self) -> dict[str, Any]:
        """``POST /save`` and shutdown: the windows (staged values and counts included) to
        ``step_N.npz`` of the current step. O(windows x n)."""
        if self.state_dir is None:
            raise RequestError(409, "no --state-dir: nothing to save to")
        with self._lock:
            path = step_path(str(self.state_dir / "step_{step}.npz"), self.step_now())
            self.reward.windows.save(path)
            return {"path": str(path), "step": self.step_now()}

    def state(self, full: bool = False) -> dict[str, Any]:
        """``GET /state``: the step, the pending samples and each window's size (``full``:
        its values, staged ones apart). O(windows), O(windows x n) with ``full``."""
        with self._lock:
            windows = self.reward.windows
            out: dict[str, Any] = {"step": self.step_now(), "pending": windows.pending,
                                   "owner": windows.owner, "windows": {}}  # fmt: skip
            full_state = windows.state_dict() if full else {}
            for key, (size, staged) in windows.sizes().items():
                entry: dict[str, Any] = {"size": size, "staged": staged}
                if full:
                    state = full_state[key]
                    entry["values"] = np.asarray(state["values"], np.float64).tolist()
                    entry["staged_values"] = np.asarray(state["staged"], np.float64).tolist()
                out["windows"][key] = entry
            return out

    def snapshot(self) -> tuple[dict[str, int], int, int]:
        """``({window: values}, step, rows scored)`` read together, for the metrics. O(windows)."""
        with self._lock:
            sizes = {key: size for key, (size, _) in self.reward.windows.sizes().items()}
            return sizes, self.step_now(), self.rows

    def info(self) -> dict[str, Any]:
        """``GET /info``: what the reward is (its ``parts``, the per-sample ``components`` that
        ``/score`` returns) and which columns a request must carry. O(components)."""
        reward = self.reward
        columns = [k.rstrip("?") for k in getattr(reward.recipe, "context", ())]
        if reward.task_key:
            columns.append(reward.task_key)
        # "components" names what /score's "components" holds; "parts" are the reward's parts
        return {"name": self.name, "parts": reward.parts, "components": reward.logged_keys,
                "columns": columns, "ground_truth_key": reward.ground_truth_key,
                "max_reward": reward.max_reward, "commit_every": self.commit_every}  # fmt: skip
