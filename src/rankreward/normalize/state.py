"""State files: one ``.npz`` per state, written atomically (temp file, fsync, rename) and read
without pickle, for every holder of windows (a `RankNormalizer`, its wrappers, a keyed
`LocalWindows` set, the Ray host of either).

A keyed set is stored flat (`flatten_state` / `unflatten_state`): the keys in ``windows``,
window ``i``'s fields under ``w{i}.``, and the set's commit and sample counts in ``counts``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "check_owner",
    "describe_owner",
    "flatten_state",
    "load_state",
    "save_state",
    "step_path",
    "unflatten_state",
]

#: Keys of a keyed set's state that are not windows.
META_KEYS = ("__counts__", "__owner__")


def save_state(state: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a normalizer `state_dict` to ``path`` as an ``.npz``: temp file, fsync, rename.

    Shared by every normalizer front (local, distributed, Ray) so a state file is the same
    thing wherever it was written. O(window).

    Examples:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "norm.npz"
        >>> from rankreward.normalize import RankNormalizer
        >>> save_state(RankNormalizer(num_metrics=1, window=4, prefill=2).state_dict(), path)
        >>> load_state(path)["values"].ravel().tolist()
        [0.0, 0.0]
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{k: np.asarray(v) for k, v in state.items()})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a state file written by `save_state` (no pickle); ``ValueError`` if unreadable.

    Examples:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "norm.npz"
        >>> from rankreward.normalize import RankNormalizer
        >>> RankNormalizer(num_metrics=2, window=4, prefill=1).save(path)
        >>> sorted(load_state(path))[:3]
        ['decimals', 'dtype', 'empty_rank']
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            state = {k: data[k] for k in data.files}
    except (
        Exception
    ) as exc:  # zipfile/numpy raise many types on damaged files; all mean "unreadable"
        raise ValueError(f"cannot read normalizer state from {path}: {exc!r}") from exc
    for key in ("ties", "dtype"):
        if key in state:
            state[key] = str(state[key])
    return state


def flatten_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """`LocalWindows.state_dict` as flat npz arrays (``windows`` names ``w0.``, ``w1.``, ...)."""
    windows = {k: v for k, v in state.items() if k not in META_KEYS}
    flat: dict[str, Any] = {"windows": np.array(list(windows), dtype=str)}
    for i, window_state in enumerate(windows.values()):
        flat.update({f"w{i}.{field}": value for field, value in window_state.items()})
    if "__counts__" in state:
        counts = state["__counts__"]
        flat["counts"] = np.array([counts["commits"], counts["pending"]], np.int64)
    if state.get("__owner__") is not None:  # JSON text, never a pickled object
        flat["owner"] = np.array(json.dumps(state["__owner__"], sort_keys=True))
    return flat


def unflatten_state(flat: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `flatten_state`."""
    flat = dict(flat)
    keys = [str(k) for k in np.atleast_1d(flat.pop("windows"))] if "windows" in flat else []
    state: dict[str, Any] = {}
    for i, key in enumerate(keys):
        prefix = f"w{i}."
        fields = {k[len(prefix) :]: v for k, v in flat.items() if k.startswith(prefix)}
        for text in ("ties", "dtype"):
            if text in fields:
                fields[text] = str(fields[text])
        state[key] = fields
    if "counts" in flat:
        commits, pending = (int(v) for v in flat["counts"])
        state["__counts__"] = {"commits": commits, "pending": pending}
    if "owner" in flat:
        state["__owner__"] = json.loads(str(flat["owner"]))
    return state


def describe_owner(owner: Mapping[str, Any]) -> str:
    """One line naming a reward's windows: its recipe and each ranked window's columns.

    Examples:
        >>> describe_owner({"recipe": "seg-zero", "windows": {"iou": ["iou_value"]}})
        "recipe 'seg-zero' with windows iou(iou_value)"
    """
    windows = ", ".join(f"{w}({', '.join(cols)})" for w, cols in owner["windows"].items())
    return f"recipe {owner['recipe']!r} with windows {windows or 'none'}"


def check_owner(owner: Mapping[str, Any], state_owner: Any, keys: list[str], where: str) -> None:
    """Raise ``ValueError`` unless a state (its recording ``state_owner``, its window
    ``keys`` ``"task/window"``) belongs to the reward described by ``owner``: a state saved by
    one reward loaded into another would leave the second's windows empty, or fill them with
    another recipe's values, without a word. ``where`` names the state (a file). O(keys).

    Examples:
        >>> owner = {"recipe": "seg-zero", "windows": {"iou": ["iou_value"]}}
        >>> check_owner(owner, None, ["/iou", "coco/iou"], "a file")
        >>> check_owner(owner, None, ["/x1"], "a file")
        Traceback (most recent call last):
        ...
        ValueError: a file holds the window '/x1', which recipe 'seg-zero' with windows iou(iou_value) does not have
    """
    if state_owner is not None and dict(state_owner) != dict(owner):
        raise ValueError(
            f"{where} was saved by {describe_owner(state_owner)}; it cannot be loaded into "
            f"{describe_owner(owner)}"
        )
    for key in keys:
        if key.rpartition("/")[2] not in owner["windows"]:
            raise ValueError(f"{where} holds the window {key!r}, which {describe_owner(owner)} "
                             "does not have")  # fmt: skip


def step_path(template: str, step: int) -> Path:
    """The state file of ``step``: every ``{step}`` in ``template`` replaced by the step number
    and nothing else interpreted (a user's path may hold other braces), its folder created.
    O(len(template)).

    Examples:
        >>> import tempfile, os
        >>> root = tempfile.mkdtemp()
        >>> step_path(os.path.join(root, "run_{date}", "step_{step}.npz"), 3).name
        'step_3.npz'
    """
    path = Path(template.replace("{step}", str(step)))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
