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
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "check_owner",
    "describe_owner",
    "flatten_state",
    "is_normalizer_state",
    "latest_state",
    "load_state",
    "merge_column_windows",
    "normalizer_to_windows",
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


_STEP_FILE = re.compile(r"^step_(\d+)\.npz$")


def latest_state(state_dir: str | os.PathLike[str]) -> tuple[Path | None, int]:
    """The newest ``step_N.npz`` in ``state_dir`` and its N (``(None, 0)`` when none): the
    one "newest state" rule of the service and the EasyR1 adapter. O(files).

    Examples:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "step_2.npz").write_bytes(b""), (d / "step_10.npz").write_bytes(b"")
        >>> path, step = latest_state(d)
        >>> path.name, step
        ('step_10.npz', 10)
    """
    best: tuple[Path | None, int] = (None, 0)
    folder = Path(state_dir)
    if folder.is_dir():
        for entry in folder.iterdir():
            m = _STEP_FILE.match(entry.name)
            if m and int(m.group(1)) >= best[1]:
                best = (entry, int(m.group(1)))
    return best


def is_normalizer_state(state: Mapping[str, Any]) -> bool:
    """Whether ``state`` is one normalizer's (a `RankNormalizer` or `AutoCommitNormalizer`
    file: the older Dr. Seg reward's format) rather than a keyed window set's. O(1).

    Examples:
        >>> from rankreward.normalize import RankNormalizer
        >>> is_normalizer_state(RankNormalizer.paper().state_dict())
        True
    """
    return "num_metrics" in state and "values" in state and "windows" not in state


def normalizer_to_windows(
    state: Mapping[str, Any], owner: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """A single-normalizer state as the window-set state of the reward ``owner`` describes:
    its one ranked window of that many metrics gets the normalizer's values, the commit
    count comes along (an `AutoCommitNormalizer` file's ``commits``). ``ValueError`` naming
    ``where`` when the reward has no such window: never loaded as empty windows. O(n).

    Examples:
        >>> from rankreward.normalize import RankNormalizer
        >>> owner = {"recipe": "drseg", "windows": {"accuracy": ["x1", "x2", "x3"]}}
        >>> sorted(normalizer_to_windows(RankNormalizer.paper().state_dict(), owner, "f"))
        ['/accuracy', '__counts__', '__owner__']
    """
    k = int(np.asarray(state["num_metrics"]))
    fits = [w for w, columns in owner["windows"].items() if len(columns) == k]
    if len(owner["windows"]) != 1 or not fits:
        raise ValueError(
            f"{where} is a single-normalizer state file ({k} metrics); "
            f"{describe_owner(owner)} keeps {len(owner['windows'])} window(s), so it cannot be "
            "resumed from it: convert it with RankNormalizer.load(path) and load the values "
            "into the window you mean"
        )
    fields = {f: v for f, v in state.items() if f != "commits"}
    staged = np.asarray(fields.get("staged", np.empty((0, k))))
    commits = int(np.asarray(state.get("commits", 0)))
    return {f"/{fits[0]}": fields, "__counts__": {"commits": commits, "pending": len(staged)},
            "__owner__": dict(owner)}  # fmt: skip


def merge_column_windows(
    state: Mapping[str, Any], owner: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """A state with one window per column (``"task/x1"``, ``"task/x2"``, ...) where the
    reward ``owner`` describes ranks those columns together in one window
    (``"task/accuracy"``): the columns' windows side by side, as the K-metric window holds
    them (an older ``drseg`` preset file). Columns that filled at different rates cannot be
    merged: ``ValueError`` naming ``where``. Any other state comes back as it was. O(n K).

    Examples:
        >>> owner = {"recipe": "r", "windows": {"acc": ["a", "b"]}}
        >>> col = {"values": np.zeros((2, 1)), "staged": np.zeros((0, 1)), "num_metrics": 1}
        >>> merged = merge_column_windows({"/a": col, "/b": col}, owner, "f")
        >>> list(merged), merged["/acc"]["values"].shape
        (['/acc'], (2, 2))
    """
    out = dict(state)
    renamed = False
    for window, columns in owner["windows"].items():
        if len(columns) < 2:
            continue
        tasks = {k.rpartition("/")[0] for k in state
                 if k not in META_KEYS and k.rpartition("/")[2] in columns}  # fmt: skip
        for task in tasks:
            if f"{task}/{window}" in state:
                continue
            parts = [state.get(f"{task}/{c}", _MISSING) for c in columns]
            if any(p is _MISSING for p in parts):
                raise ValueError(f"{where} holds some of the windows {columns} of task "
                                 f"{task!r} but not all: they are ranked together now")  # fmt: skip
            for c in columns:
                del out[f"{task}/{c}"]
            renamed = True
            if parts[0] is None:  # only the keys asked for
                out[f"{task}/{window}"] = None
                continue
            merged = dict(parts[0])
            for field in ("values", "staged"):
                arrays = [np.asarray(p.get(field, np.empty((0, 1)))) for p in parts]
                if len({a.shape[0] for a in arrays}) != 1:
                    raise ValueError(
                        f"{where}: the windows {columns} of task {task!r} hold different "
                        f"numbers of {field} values, so they cannot become one window"
                    )
                merged[field] = np.concatenate([a.reshape(len(a), 1) for a in arrays], axis=1)
            merged["num_metrics"] = np.asarray(len(columns))
            out[f"{task}/{window}"] = merged
    old_owner = out.get("__owner__")
    if renamed and old_owner is not None and old_owner.get("recipe") == owner["recipe"]:
        split = {c: [c] for w, cols in owner["windows"].items() if len(cols) > 1 for c in cols}
        rest = {w: cols for w, cols in owner["windows"].items() if len(cols) < 2}
        if dict(old_owner["windows"]) == {**split, **rest}:  # the same reward, split per column
            out["__owner__"] = dict(owner)
    return out


_MISSING = object()
