"""The Dr. Seg recipe: a batch of completions -> finished per-completion terms, in one pass.

`DrSegRecipe.terms` reads the batch one way:

1. `scan.scan_batch` parses every completion at once (tags, structure, looks, canonical answers
   and their coordinates, the repeat check);
2. the rows the scanner leaves (a non-canonical answer, a non-ASCII repeat check) are finished
   by the readable rules (`parser.read_answer_released` / `parser.read_answer`,
   `rules.non_repeat_problems`), which are also the spec the scanner is tested against;
3. one Numba pass over the samples computes the accuracy metrics (`accuracy.accuracy_rows`).

The result is a `Terms` of finished columns (structure, answer_items, look, x1..x3, non_repeat,
VisionReasoner's accuracy, the answer and ground-truth counts) and each completion's problems.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any

import numpy as np

from ....frames import FRAME_UNITS, FRAMES, check_size, frame_problems, scale_pairs
from ...spec import Terms
from . import scan as _scan
from .accuracy import AccuracyConfig, accuracy_rows, check_compat, pack_rows
from .inputs import packed_ground_truth
from .parser import DEFAULT_MAX_CHARS, Problem, read_answer, read_answer_released
from .prompt import LOOK_TO_CONFIRM, placeholder_phrases
from .rules import (
    non_repeat_problems,
    placeholder_problem,
    repeat_problem,
    visionreasoner_non_repeat,
)

__all__ = ["DRSEG_COLUMNS", "NON_REPEAT_MODES", "DrSegRecipe"]

#: Which non_repeat rule.
NON_REPEAT_MODES = ("drseg", "visionreasoner")
#: The columns `DrSegRecipe.terms` computes (``accuracy``: VisionReasoner's matched-cost
#: accuracy, 0..3; ``num_pred`` / ``num_gt``: the answer's and the ground truth's counts).
DRSEG_COLUMNS = ("structure", "answer_items", "look", "x1", "x2", "x3", "non_repeat", "accuracy",
                 "num_pred", "num_gt")  # fmt: skip


class DrSegRecipe:
    """The Dr. Seg (and VisionReasoner) terms of a batch (see the module docs).

    Args:
        compat: how answers are read (`accuracy.COMPAT_MODES`; see `DrSegReward`).
        non_repeat: ``"drseg"`` or ``"visionreasoner"`` (`NON_REPEAT_MODES`).
        config: the accuracy thresholds (`AccuracyConfig`).
        template: the prompt template whose placeholder phrases non_repeat rejects.
        max_chars: completions longer than this score 0 everywhere (``too_long`` problem).
        frame: the answers' coordinate frame (`rankreward.rewards.FRAMES`): ``"absolute"``
            (the paper: pixels, read as is), ``"rel1000"`` (Qwen3-VL, Qwen2-VL) or ``"rel1"``;
            a non-absolute answer is mapped to the pixels of its sample's image (the
            ``image_size`` column, (width, height)) in float64 before any geometry:
            ``x * W / 1000``, ``y * H / 1000``. The ground truth stays in pixels.

    Complexity: O(total text + sum M N + matching).

    Examples:
        >>> gt = '[{"bbox_2d": [0, 0, 9, 9], "point_2d": [4, 4]}]'
        >>> text = "<think><look>a</look></think><answer>" + gt + "</answer>"
        >>> terms = DrSegRecipe().terms([text], [gt], {})
        >>> [float(terms.columns[c][0]) for c in ("structure", "look", "x1", "x3")]
        [1.0, 1.0, 1.0, 1.0]
    """

    name = "drseg"  # what its windows' state files say they belong to

    def __init__(
        self,
        *,
        compat: str = "released",
        non_repeat: str = "drseg",
        config: AccuracyConfig | None = None,
        template: str = LOOK_TO_CONFIRM,
        max_chars: int = DEFAULT_MAX_CHARS,
        frame: str = "absolute",
    ) -> None:
        check_compat(compat)
        if frame not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
        self.frame = frame
        # a non-absolute frame reads each sample's image size (checked in terms, by name); the
        # absolute frame reads it when given, to say when answers do not fit the image
        self.context: tuple[str, ...] = ("image_size?", "seen_size?")
        self._frame_warned = False
        if non_repeat not in NON_REPEAT_MODES:
            raise ValueError(f"non_repeat must be one of {NON_REPEAT_MODES}, got {non_repeat!r}")
        self.compat = compat
        self.non_repeat = non_repeat
        self.config = config or AccuracyConfig()
        self.phrases = placeholder_phrases(template)
        self.max_chars = max_chars

    def terms(self, texts: list[str], ground_truths: list[Any], context: Any) -> Terms:
        cfg = self.config
        gt_arrays = []
        for k, g in enumerate(ground_truths):
            try:
                gt_arrays.append(packed_ground_truth(g, cfg.max_objects))
            except ValueError as e:
                raise ValueError(f"ground_truth[{k}]: {e}") from None
        found = _scan.scan_batch(
            texts, max_chars=self.max_chars, max_objects=cfg.max_objects, phrases=self.phrases
        )
        probs: dict[int, list] = defaultdict(list)
        for k in np.flatnonzero(found.num_records).tolist():
            probs[k] = _scan.problems_of(found, k)
        pred_rows, prow, pcount, mcount, plain = self._read_answers(texts, found, probs)
        self._check_frame(pred_rows, prow, pcount, context, probs)
        if self.frame != "absolute":
            pred_rows = self._to_pixels(pred_rows, prow, pcount, context)
        non_repeat = self._non_repeat(texts, found, probs)
        gt_rows, grow, gcount = pack_rows(gt_arrays)
        raw = accuracy_rows(pred_rows, prow, pcount, mcount, gt_rows, grow, gcount, cfg)
        bad = ~np.isfinite(raw).all(axis=1)
        for k in np.flatnonzero(bad).tolist():  # huge coordinates overflowed the arithmetic
            raw[k, [0, 2, 3]] = 0.0
            probs[k].append(Problem("non_finite", "the metrics overflowed (huge coordinates)"))
        columns = {
            "structure": found.structure,
            "answer_items": found.answer_items,
            "look": found.look,
            "x1": raw[:, 0],
            "x2": raw[:, 1],
            "x3": raw[:, 2],
            "non_repeat": non_repeat,
            "accuracy": np.where(plain, raw[:, 3], 0.0),
            "num_pred": np.maximum(mcount, 0),
            "num_gt": gcount,
        }
        problems = [[str(x) for x in probs.get(k, ())] for k in range(len(texts))]
        return Terms(columns, problems)

    def _check_frame(self, rows, prow, pcount, context, probs) -> None:
        """A per-sample problem where an answer does not fit the frame it is read in but
        another frame's extent holds it (`rankreward.frames.frame_problems`), and one warning
        per reward when that is most of a batch. Needs the image sizes (an ``image_size``
        column, or the trainer's image column). O(rows + B)."""
        sizes = (context or {}).get("image_size")
        if sizes is None or len(sizes) != len(prow) or not len(rows):
            return
        seen = (context or {}).get("seen_size")
        try:
            found = frame_problems(rows, prow, pcount, self.frame, sizes,
                                   seen if seen is not None and len(seen) == len(prow) else None)  # fmt: skip
        except ValueError:
            return  # a bad size is named where the sizes are used (frame maps), not here
        flagged = [k for k, why in enumerate(found) if why]
        for k in flagged:
            probs[k].append(Problem("frame", found[k]))
        answered = int((np.asarray(pcount) > 0).sum())
        if flagged and 2 * len(flagged) >= answered and not self._frame_warned:
            self._frame_warned = True
            warnings.warn(
                f"{len(flagged)} of {answered} answers of a batch do not fit frame={self.frame!r}: "
                f"{found[flagged[0]]} (sample {flagged[0]}); each such sample records a 'frame' problem",
                RuntimeWarning,
                stacklevel=4,
            )

    def _to_pixels(self, rows: np.ndarray, prow: np.ndarray, pcount: np.ndarray,
                   context: Any) -> np.ndarray:  # fmt: skip
        """Each sample's answer rows (x1, y1, x2, y2, px, py) mapped from ``frame`` to its
        image's pixels, in a new float64 array. O(B + rows)."""
        sizes = (context or {}).get("image_size")
        if sizes is None:
            raise TypeError(
                f"frame={self.frame!r} maps answers to the pixels of each sample's image: pass "
                "an 'image_size' column, (width, height) per sample"
            )
        if len(sizes) != len(prow):
            raise ValueError(f"{len(prow)} completions but {len(sizes)} image_size values")
        size = np.ones((len(rows), 2))
        for k, given in enumerate(sizes):
            try:
                w, h = check_size(given, "image_size")
            except ValueError as e:
                raise ValueError(f"sample {k}: {e}") from None
            if pcount[k] > 0:
                size[prow[k] : prow[k] + pcount[k]] = (w, h)
        # the package's one frame arithmetic (rankreward.frames): v * W / unit per axis, the
        # same bits as AnswerReader for the same answer and image
        unit = np.array(FRAME_UNITS[self.frame], np.float64)
        return scale_pairs(np.asarray(rows, np.float64), size, unit)

    def _read_answers(self, texts, found, problems_by_k):
        """Answer counts and object rows for every sample: the scanner's canonical answers,
        the readable reader for the rest. Returns (pred_rows, prow, pcount, mcount, plain)."""
        cfg = self.config
        released = self.compat == "released"
        answer_items = found.answer_items
        canonical = found.canonical
        pcount = np.where(canonical, found.num_kept, 0 if released else -1)
        mcount = pcount.copy()
        plain = canonical.copy()
        prow = found.row.copy()
        pred_rows = found.coords
        extra_rows: list[np.ndarray] = []
        extra_total = len(pred_rows)
        for k in np.flatnonzero(found.status & _scan.NEEDS_ANSWER).tolist():
            s, e = found.answer_span[k].tolist()
            if released:
                r = read_answer_released(texts[k][s:e], max_objects=cfg.max_objects)
                answer_items[k] = r.answer_items
                problems_by_k[k] += r.problems
                mcount[k] = r.count
                boxes, points, plain[k] = r.boxes, r.points, r.plain_numbers
            else:
                items, boxes, points, more, _ = read_answer(
                    texts[k][s:e], strict=self.compat == "strict", max_objects=cfg.max_objects
                )
                answer_items[k] = items
                problems_by_k[k] += more
                plain[k] = boxes is not None
            if boxes is not None:
                pcount[k], prow[k] = len(boxes), extra_total
                mcount[k] = len(boxes)
                extra_rows.append(np.concatenate([boxes, points], axis=1))
                extra_total += len(boxes)
        if extra_rows:
            pred_rows = np.concatenate([pred_rows, *extra_rows])
        return pred_rows, prow, pcount, mcount, plain

    def _non_repeat(self, texts, found, probs) -> np.ndarray:
        if self.non_repeat == "visionreasoner":
            return np.array([visionreasoner_non_repeat(t) for t in texts], np.float64)
        non_repeat = (found.non_repeat[:, 0] == _scan.NR_OK).astype(np.float64)
        for k in np.flatnonzero(found.non_repeat[:, 0] | found.status).tolist():
            outcome, a, b = found.non_repeat[k].tolist()
            if found.status[k] & _scan.NEEDS_NON_REPEAT:
                nr = non_repeat_problems(texts[k], self.phrases)
                non_repeat[k] = 0.0 if nr else 1.0
                probs[k] += nr
            elif outcome == _scan.NR_PLACEHOLDER:
                probs[k].append(placeholder_problem(texts[k][a:b].lower()))
            elif outcome == _scan.NR_REPEATED:
                probs[k].append(repeat_problem(a))
        return non_repeat
