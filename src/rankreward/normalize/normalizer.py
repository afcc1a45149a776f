"""`RankNormalizer`: streaming distribution-ranked normalisation of reward metrics.

Each metric has a FIFO window of the most recent ``window`` raw values. A value's *rank* is its
empirical quantile in that window. Ranking puts metrics of very different scales (IoU in 0..1, a
count ratio, a point score) on one footing before they are summed into a reward, which is the
Dr. Seg paper's "distribution-ranked reward".

The front class owns everything that is the same for every storage backend: input validation,
numpy/torch dispatch, the per-step staging buffer, locking, rounding and state. Backends
(`SortedBackend`, `NumbaBackend`, `TorchBackend`) only store windows and count.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._arrays import format_index, is_torch, is_torch_cuda, result_dtype_name, to_numpy
from .._pickling import LockFreePickle
from .rounding import python_round, round_fractions
from .sorted_backend import SortedBackend
from .state import load_state, save_state

__all__ = ["STATE_VERSION", "RankNormalizer", "load_state", "save_state"]

#: Version of the `state_dict` layout; bumped on any incompatible change.
STATE_VERSION = 1

_TIES = ("right", "left", "mid")
_BACKENDS = ("auto", "sorted", "numba", "torch")
_DTYPES = ("float32", "float64")


def _make_backend(name: str, num_metrics: int, capacity: int, dtype: str, device: Any = None):
    if name == "sorted":
        return SortedBackend(num_metrics, capacity, dtype)
    if name == "numba":
        from .numba_backend import NumbaBackend

        return NumbaBackend(num_metrics, capacity, dtype)
    if name == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(num_metrics, capacity, dtype, device=device or "cpu")
    raise ValueError(f"backend must be one of {_BACKENDS}, got {name!r}")


def _default_cpu_backend() -> str:
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a core dependency
        return "sorted"
    return "numba"


class _hybrid:
    """A method that, called on the class instead of an instance, is the class's `from_file`
    (``RankNormalizer.load(path)`` reads as "load a normalizer")."""

    def __init__(self, method: Any) -> None:
        self.method = method
        self.__doc__ = method.__doc__

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return owner.from_file
        return self.method.__get__(instance, owner)


class RankNormalizer(LockFreePickle):
    """Rank raw metric values by their empirical quantile in a rolling window per metric.

    Args:
        num_metrics: number of metrics ``K``; every row of input carries one value per metric.
        window: capacity of each metric's FIFO window (oldest values are evicted beyond it).
        backend: ``"sorted"`` (sortedcontainers, the readable reference), ``"numba"``
            (incrementally merged sorted arrays, fastest on CPU), ``"torch"`` (tensors on any
            device, no host sync), or ``"auto"``: torch on the input's device for CUDA tensors,
            otherwise numba. ``"auto"`` decides on the first call that carries data.
        ties: ``"right"`` (the paper): rank = count(window <= x) / n; ``"left"``:
            count(window < x) / n; ``"mid"``: (count(<) + count(<=)) / (2 n).
        decimals: if set, ranks are rounded like Python's ``round(rank, decimals)`` (the paper
            uses 1; note ``round(0.35, 1) == 0.3`` because 0.35 is stored just below 0.35).
        prefill: number of ``prefill_value`` entries placed in every window at construction
            (the paper starts with 128 zeros).
        prefill_value: the value used for ``prefill``.
        dtype: ``"float64"`` or ``"float32"``; windows store this dtype and every query is cast
            to it before the search, so values equal after the cast count as ties (the paper
            uses float32).
        empty_rank: the rank returned while the windows are empty. Default 0.5, the neutral
            midpoint: with no history there is no evidence that a value is high or low, and a
            constant adds nothing to GRPO's group-relative advantages.
        device: device for the ``"torch"`` backend (default: the first input's device).

    Ranks come back in the type of the input (numpy or torch, same device), as float64 for
    float64 input and float32 otherwise, in the input's shape.

    Thread safety: every public method holds one re-entrant lock, so concurrent callers see
    each call as atomic (`update_and_rank` ranks and appends without another call in between).

    Example:
        >>> norm = RankNormalizer(num_metrics=1, window=4)
        >>> norm.update_and_rank(np.array([0.2, 0.8])).tolist()  # empty window: neutral ranks
        [0.5, 0.5]
        >>> norm.rank(np.array([0.1, 0.2, 0.5, 0.9])).tolist()  # count(<= x) / 2
        [0.0, 0.5, 0.5, 1.0]
        >>> norm.update(np.array([0.3, 0.4, 0.5]))  # 0.2 is evicted: window holds 4 values
        >>> norm.window.ravel().tolist()
        [0.8, 0.3, 0.4, 0.5]

    Complexity per call with batch B, K metrics and n values per window: ranking is
    O(B K log n); appending is O(K (n + B log B)) for numba and torch (one pass over the window,
    never a re-sort) and O(K B log n) for sorted.
    """

    def __init__(
        self,
        num_metrics: int = 3,
        window: int = 2048,
        backend: str = "auto",
        ties: str = "right",
        decimals: int | None = None,
        prefill: int = 0,
        prefill_value: float = 0.0,
        *,
        dtype: str = "float64",
        empty_rank: float = 0.5,
        device: Any = None,
    ) -> None:
        if not isinstance(num_metrics, (int, np.integer)) or num_metrics < 1:
            raise ValueError(f"num_metrics must be a positive int, got {num_metrics!r}")
        if not isinstance(window, (int, np.integer)) or window < 1:
            raise ValueError(f"window must be a positive int, got {window!r}")
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
        if ties not in _TIES:
            raise ValueError(f"ties must be one of {_TIES}, got {ties!r}")
        if decimals is not None and (not isinstance(decimals, (int, np.integer)) or decimals < 0):
            raise ValueError(f"decimals must be None or a non-negative int, got {decimals!r}")
        if not isinstance(prefill, (int, np.integer)) or not 0 <= prefill <= window:
            raise ValueError(f"prefill must be an int in [0, window={window}], got {prefill!r}")
        if not np.isfinite(prefill_value):
            raise ValueError(f"prefill_value must be finite, got {prefill_value!r}")
        dtype = np.dtype(dtype).name
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
        if not 0.0 <= empty_rank <= 1.0:
            raise ValueError(f"empty_rank must lie in [0, 1], got {empty_rank!r}")

        self.num_metrics = int(num_metrics)
        self.capacity = int(window)
        self.ties = ties
        self.decimals = None if decimals is None else int(decimals)
        self.dtype = dtype
        self.empty_rank = float(empty_rank)
        self.prefill = int(prefill)
        self.prefill_value = float(prefill_value)
        self._requested_backend = backend
        self._device = device
        self._resolved = backend != "auto"
        name = _default_cpu_backend() if backend == "auto" else backend
        self._backend = _make_backend(name, self.num_metrics, self.capacity, dtype, device)
        self._staged: list[Any] = []
        # Rows in _staged, kept as a count: per-sample trainers stage thousands of one-row
        # chunks per step and read num_staged after each, which a sum would make quadratic.
        self._num_staged = 0
        self._lock = threading.RLock()
        self._round_tables: dict[tuple[int, str], Any] = {}
        if prefill:
            self._backend.append(
                self._backend.native(np.full((prefill, self.num_metrics), prefill_value, dtype))
            )

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def paper(cls, **overrides: Any) -> RankNormalizer:
        """The Dr. Seg paper's setting: 3 metrics, window 2048, 128 zeros prefilled, ties
        ``"right"``, ranks rounded to 1 decimal, float32 windows. Keyword overrides win.

        Examples:
            >>> norm = RankNormalizer.paper()
            >>> len(norm), norm.decimals, norm.dtype
            (128, 1, 'float32')
            >>> norm.rank(np.array([[0.0, 0.5, -1.0]])).tolist()
            [[1.0, 1.0, 0.0]]
        """
        params: dict[str, Any] = dict(
            num_metrics=3,
            window=2048,
            ties="right",
            decimals=1,
            prefill=128,
            prefill_value=0.0,
            dtype="float32",
        )
        params.update(overrides)
        return cls(**params)

    @property
    def backend(self) -> str:
        """Name of the backend in use (``"auto"`` resolves on the first call with data)."""
        return self._backend.name

    # ------------------------------------------------------------------ validation
    def _prepare(self, values: Any) -> tuple[Any, dict[str, Any]]:
        """Check the shape of ``values`` and cast them to the backend's (B, K) native array.

        Returns the native array and what is needed to give results back in the caller's form.
        Finiteness is checked by the backend's fused step (one pass, no extra numpy call).
        """
        values = self.check_values(values)
        torch_in = is_torch(values)
        shape = tuple(values.shape)
        rows = values if len(shape) == 2 else values.reshape(-1, 1)
        meta = {
            "torch": torch_in,
            "shape": shape,
            "device": values.device if torch_in else None,
            "out_dtype": result_dtype_name(values),
        }
        if not self._resolved:
            self._resolve(values)
        if not torch_in and rows.dtype == self.dtype and rows.flags.c_contiguous:
            return self._backend.native(rows), meta  # no cast, so nothing can overflow
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported as non-finite
            native = self._backend.native(rows)
        return native, meta

    def check_values(self, values: Any) -> Any:
        """``values`` as a numpy array or torch tensor of real numbers of a shape this
        normalizer takes ((K,) or (B, K)); a ``TypeError`` or ``ValueError`` saying what is
        wrong otherwise. Finiteness is not checked here. O(B K) for a list, O(1) for an array.

        Examples:
            >>> RankNormalizer(num_metrics=2).check_values([[0.5, 1.0]]).shape
            (1, 2)
        """
        if is_torch(values):
            if values.is_complex():
                raise TypeError(f"values must be real numbers, got a tensor of {values.dtype}")
        else:
            if type(values) is not np.ndarray:
                values = np.asarray(values)
            if values.dtype.kind not in "biuf":
                raise TypeError(
                    f"values must be real numbers, got an array of dtype {values.dtype}"
                )
        error = self._shape_error(tuple(values.shape))
        if error:
            raise ValueError(error)
        return values

    def _shape_error(self, shape: tuple[int, ...]) -> str | None:
        """Why a batch of this shape cannot be ranked, or None. (B, K), or (B,) when K == 1."""
        k = self.num_metrics
        if (len(shape) == 2 and shape[1] == k) or (k == 1 and len(shape) == 1):
            return None
        expected = "(B,) or (B, 1)" if k == 1 else f"(B, {k})"
        return f"expected values of shape {expected} for num_metrics={k}, got shape {shape}"

    def _raise_non_finite(self, native: Any) -> None:
        vals = to_numpy(native)
        row, col = np.argwhere(~np.isfinite(vals))[0]
        raise ValueError(
            f"values{format_index((row, col))} (row {row}, metric {col}) is {vals[row, col]} "
            f"after casting to {self.dtype}; ranks need finite values "
            "(a finite float64 beyond float32's range becomes inf when dtype='float32')"
        )

    def _resolve(self, values: Any) -> None:
        """Pick the concrete backend for ``backend="auto"`` from the first data it sees."""
        if self._resolved:
            return
        self._resolved = True
        if is_torch_cuda(values) and self._backend.name != "torch":
            self._device = values.device
            self._migrate("torch", values.device)

    def _migrate(self, name: str, device: Any) -> None:
        new = _make_backend(name, self.num_metrics, self.capacity, self.dtype, device)
        new.append(new.native(self._backend.values()))
        self._staged = [new.native(to_numpy(s)) for s in self._staged]
        self._backend = new
        self._round_tables.clear()

    # ------------------------------------------------------------------ ranking
    def _run(self, values: Any, *, rank: bool, append: bool, stage: bool = False) -> Any:
        """Validate, then rank against the current windows and/or append, in one backend call.

        Nothing changes unless every value is finite.
        """
        native, meta = self._prepare(values)
        n = len(self._backend)
        side, denom = None, 1
        if rank and n:
            side = "both" if self.ties == "mid" else self.ties
            denom = 2 * n if self.ties == "mid" else n
        ok, frac = self._backend.step(native, side, denom, append)
        if not ok:
            self._raise_non_finite(native)
        if stage:
            # Copy: the caller may reuse its buffer before the step ends.
            self._staged.append(native.clone() if is_torch(native) else native.copy())
            self._num_staged += int(native.shape[0])
        if not rank:
            return None
        if not n:
            ranks = self._empty_ranks(native)
        elif self.decimals is None:
            ranks = frac
        elif is_torch(frac):
            counts = (frac * denom).round().long()
            ranks = self._round_table(denom, frac.device)[counts]
        else:
            ranks = python_round(frac, self.decimals)
        return self._finish(ranks, meta)

    def _empty_ranks(self, native: Any) -> Any:
        if is_torch(native):
            import torch

            return torch.full(tuple(native.shape), self.empty_rank, dtype=torch.float64,
                              device=native.device)  # fmt: skip
        return np.full(native.shape, self.empty_rank)

    def _round_table(self, denom: int, device: Any) -> Any:
        # On a device we look ranks up in a table of every possible fraction c / denom (built
        # once per window length) instead of rounding per value with a host round trip.
        import torch

        key = (denom, str(device))
        table = self._round_tables.get(key)
        if table is None:
            exact = round_fractions(np.arange(denom + 1), denom, self.decimals)
            table = torch.as_tensor(exact, device=device)
            if len(self._round_tables) > 8:
                self._round_tables.clear()
            self._round_tables[key] = table
        return table

    def _finish(self, ranks: Any, meta: dict[str, Any]) -> Any:
        """Return ranks in the caller's array type, device, dtype and shape."""
        shape = meta["shape"]
        if meta["torch"]:
            import torch

            t = ranks if is_torch(ranks) else torch.from_numpy(ranks)
            t = t.to(device=meta["device"], dtype=getattr(torch, meta["out_dtype"]))
            return t.reshape(shape)
        out = to_numpy(ranks).astype(meta["out_dtype"], copy=False)
        return out.reshape(shape)

    def rank(self, values: Any) -> Any:
        """Rank ``values`` against the current windows without changing them.

        Staged (uncommitted) values are *not* part of the window: every call between two
        `commit` calls ranks against the same snapshot.

        Complexity: O(B K log n).

        Examples:
            >>> norm = RankNormalizer(num_metrics=2, window=8, prefill=4)  # four zeros per metric
            >>> norm.rank(np.array([[0.0, -1.0], [1.0, 0.0]])).tolist()
            [[1.0, 0.0], [1.0, 1.0]]
        """
        with self._lock:
            return self._run(values, rank=True, append=False)

    def update(self, values: Any) -> None:
        """Append rows to the windows in order (oldest values beyond ``window`` are evicted).

        Complexity: O(K (n + B log B)) for numba/torch, O(K B log n) for sorted.

        Examples:
            >>> norm = RankNormalizer(num_metrics=1, window=2)
            >>> norm.update([1.0, 2.0, 3.0])
            >>> norm.window.ravel().tolist()
            [2.0, 3.0]
        """
        with self._lock:
            self._run(values, rank=False, append=True)

    def update_and_rank(self, values: Any) -> Any:
        """Rank the batch against the windows as they were before the call, then append it.

        Complexity: the sum of `rank` and `update`.

        Examples:
            >>> norm = RankNormalizer(num_metrics=1, window=16, prefill=2)
            >>> norm.update_and_rank(np.array([0.0, 1.0])).tolist()  # against [0, 0]
            [1.0, 1.0]
            >>> norm.update_and_rank(np.array([0.5])).tolist()  # against [0, 0, 0, 1]
            [0.75]
        """
        with self._lock:
            return self._run(values, rank=True, append=True)

    def stage(self, values: Any) -> None:
        """Buffer rows to be appended at the next `commit` (the paper's per-step flush).

        Complexity: O(B K) (validation and a reference to the batch).

        Examples:
            >>> norm = RankNormalizer(num_metrics=1, window=8)
            >>> norm.stage([1.0]); norm.stage([2.0])
            >>> len(norm), norm.num_staged
            (0, 2)
            >>> norm.commit()
            2
            >>> norm.window.ravel().tolist()
            [1.0, 2.0]
        """
        with self._lock:
            self._run(values, rank=False, append=False, stage=True)

    def rank_and_stage(self, values: Any) -> Any:
        """`rank` against the current snapshot and `stage` the values, atomically.

        This is what a reward function calls once per micro-batch; the trainer calls
        `commit` once per optimizer step.

        Examples:
            >>> norm = RankNormalizer(num_metrics=1, window=8, prefill=1)
            >>> norm.rank_and_stage([1.0]).tolist(), norm.rank_and_stage([-1.0]).tolist()
            ([1.0], [0.0])
            >>> norm.commit(), len(norm)
            (2, 3)
        """
        with self._lock:
            return self._run(values, rank=True, append=False, stage=True)

    def commit(self) -> int:
        """Append everything staged since the last commit, in staging order.

        Returns the number of rows appended. Complexity: one `update` of all staged rows.
        """
        with self._lock:
            if not self._staged:
                return 0
            staged, self._staged, self._num_staged = self._staged, [], 0
            if is_torch(staged[0]):
                import torch

                rows = torch.cat(staged, dim=0)
            else:
                rows = np.concatenate(staged, axis=0)
            self._backend.append(rows)
            return int(rows.shape[0])

    def discard_staged(self) -> int:
        """Drop the staged rows without appending them; returns how many were dropped."""
        with self._lock:
            dropped, self._staged, self._num_staged = self._num_staged, [], 0
            return dropped

    # ------------------------------------------------------------------ inspection
    def __len__(self) -> int:
        """Number of values currently in each metric's window (all windows have the same)."""
        with self._lock:
            return len(self._backend)

    @property
    def num_staged(self) -> int:
        """Rows staged and not yet committed."""
        with self._lock:
            return self._num_staged

    @property
    def window(self) -> np.ndarray:
        """A copy of the windows as an (n, num_metrics) numpy array, oldest first."""
        with self._lock:
            return self._backend.values()

    def __repr__(self) -> str:
        return (
            f"RankNormalizer(num_metrics={self.num_metrics}, window={self.capacity}, "
            f"backend={self.backend!r}, ties={self.ties!r}, decimals={self.decimals}, "
            f"dtype={self.dtype!r}, len={len(self)}, staged={self.num_staged})"
        )

    def _check(self) -> None:
        """Assert internal invariants (tests call this after every operation)."""
        with self._lock:
            self._backend._check()
            assert len(self._backend) <= self.capacity
            for s in self._staged:
                assert tuple(s.shape[1:]) == (self.num_metrics,)
            assert self._num_staged == sum(int(s.shape[0]) for s in self._staged)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly, as plain numpy arrays and Python scalars.

        ``values`` is the (n, K) window, oldest first; ``staged`` the uncommitted rows. No
        pickle is needed to store it (`save` writes an ``.npz``).

        Examples:
            >>> norm = RankNormalizer(num_metrics=1, window=4, prefill=2)
            >>> state = norm.state_dict()
            >>> state["values"].shape, state["version"]
            ((2, 1), 1)
        """
        with self._lock:
            staged = (
                np.concatenate([to_numpy(s) for s in self._staged], axis=0)
                if self._staged
                else np.empty((0, self.num_metrics), dtype=self.dtype)
            )
            return {
                "version": STATE_VERSION,
                "num_metrics": self.num_metrics,
                "window": self.capacity,
                "ties": self.ties,
                "decimals": -1 if self.decimals is None else self.decimals,
                "dtype": self.dtype,
                "empty_rank": self.empty_rank,
                "values": self._backend.values(),
                "staged": staged.astype(self.dtype, copy=False),
            }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict`. The configuration must match this normaliser's.

        On any error (missing key, other version, mismatched configuration, wrong shape,
        non-finite values) a ``ValueError`` is raised and this normaliser is left unchanged.

        Complexity: O(n K log n) (the sorted view is rebuilt once).
        """
        values, staged = self._validated_state(state)
        with self._lock:
            name = self._backend.name
            device = getattr(self._backend, "device", None)
            new = _make_backend(name, self.num_metrics, self.capacity, self.dtype, device)
            new.append(new.native(values))
            self._backend = new
            self._staged = [new.native(staged)] if staged.shape[0] else []
            self._num_staged = int(staged.shape[0])
            self._round_tables.clear()

    def _validated_state(self, state: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(state, Mapping):
            raise ValueError(f"state must be a mapping, got {type(state).__name__}")
        missing = [k for k in ("version", "num_metrics", "window", "values") if k not in state]
        if missing and "windows" in state:
            raise ValueError(
                "this is a reward's window-set state (keys "
                f"{[str(k) for k in np.atleast_1d(state['windows'])]}), not one normalizer's: "
                "load it with reward.load(path) or LocalWindows().load(path)"
            )
        if missing:
            raise ValueError(f"normalizer state is missing keys {missing}")
        version = int(np.asarray(state["version"]))
        if version != STATE_VERSION:
            raise ValueError(
                f"normalizer state has version {version}, this rankreward reads {STATE_VERSION}"
            )
        expect = {"num_metrics": self.num_metrics, "window": self.capacity}
        if "ties" in state:
            expect["ties"] = self.ties
        if "dtype" in state:
            expect["dtype"] = self.dtype
        if "decimals" in state:
            expect["decimals"] = -1 if self.decimals is None else self.decimals
        for key, want in expect.items():
            got = np.asarray(state[key]).item()
            if got != want:
                raise ValueError(
                    f"normalizer state has {key}={got!r} but this normalizer has {key}={want!r}"
                )
        arrays = []
        for key in ("values", "staged"):
            raw = state.get(key, np.empty((0, self.num_metrics)))
            arr = to_numpy(raw)
            if arr.ndim != 2 or arr.shape[1] != self.num_metrics:
                raise ValueError(
                    f"normalizer state {key!r} must have shape (n, {self.num_metrics}), "
                    f"got {arr.shape}"
                )
            if arr.dtype.kind not in "biuf":
                raise ValueError(f"normalizer state {key!r} has non-numeric dtype {arr.dtype}")
            arr = arr.astype(self.dtype)
            if not np.isfinite(arr).all():
                raise ValueError(f"normalizer state {key!r} contains non-finite values")
            arrays.append(arr)
        if arrays[0].shape[0] > self.capacity:
            raise ValueError(
                f"normalizer state holds {arrays[0].shape[0]} values, more than window="
                f"{self.capacity}"
            )
        return arrays[0], arrays[1]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `state_dict` to ``path`` as an ``.npz``, atomically (temp file + rename).

        A crash mid-write leaves the previous file intact; no pickle is used.
        """
        save_state(self.state_dict(), path)

    @_hybrid
    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore state written by `save` (``allow_pickle=False``); see `load_state_dict`.
        Called on the class, ``RankNormalizer.load(path)`` is `from_file`."""
        self.load_state_dict(load_state(path))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **options: Any) -> RankNormalizer:
        """A normaliser built from the settings recorded in a `save` file (metrics, window,
        ties, rounding, dtype, empty rank) and holding its values; ``options`` (``backend``,
        ``device``) choose where. O(n K log n).

        Examples:
            >>> import tempfile, pathlib
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.npz"
            >>> RankNormalizer.paper().save(path)
            >>> back = RankNormalizer.load(path)  # on the class: a new normaliser
            >>> len(back), back.decimals, back.capacity
            (128, 1, 2048)
        """
        state = load_state(path)
        settings: dict[str, Any] = {}
        for key in ("num_metrics", "window"):
            if key not in state:
                raise ValueError(f"{path}: not a normalizer state file (no {key!r})")
            settings[key] = int(np.asarray(state[key]).item())
        if "ties" in state:
            settings["ties"] = str(np.asarray(state["ties"]).item())
        if "decimals" in state:
            decimals = int(np.asarray(state["decimals"]).item())
            settings["decimals"] = None if decimals < 0 else decimals
        if "dtype" in state:
            settings["dtype"] = str(np.asarray(state["dtype"]).item())
        if "empty_rank" in state:
            settings["empty_rank"] = float(np.asarray(state["empty_rank"]).item())
        norm = cls(**{**settings, **options})
        norm.load_state_dict(state)
        return norm
