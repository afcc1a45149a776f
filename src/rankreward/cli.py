"""Command line entry point: ``rankreward --version``, ``score``, ``eval`` and ``serve``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .arguments import parse_option
from .jsonl import read_jsonl, read_jsonl_field

_COMPLETION_KEYS = ("completion", "response", "text", "output")
_GT_KEYS = ("ground_truth", "solution", "label", "answer")


def _ground_truths(path: Path) -> tuple[list, dict[str, list]]:
    """The ground truth of each line (a JSON string/list, or an object's first of `_GT_KEYS`)
    and, from object lines, every other key as a per-sample column (image sizes, task keys)."""
    gts: list = []
    rows: list[dict] = []
    for lineno, item in read_jsonl(path):
        extra = {}
        if isinstance(item, dict):
            key = next((k for k in _GT_KEYS if k in item), None)
            if key is None:
                raise ValueError(f"{path}:{lineno}: an object line needs one of the keys "
                                 f"{list(_GT_KEYS)} (it has {sorted(item)[:8]})")  # fmt: skip
            extra = {k: v for k, v in item.items() if k != key}
            item = item[key]
        if not isinstance(item, (str, list)):
            raise ValueError(f"{path}:{lineno}: a ground truth must be str or list, got "
                             f"{type(item).__name__} {item!r:.60}")  # fmt: skip
        gts.append(item)
        rows.append(extra)
    names = dict.fromkeys(k for row in rows for k in row)
    return gts, {k: [row.get(k) for row in rows] for k in names}


def _score(args: argparse.Namespace) -> int:
    from .rewards import preset

    try:
        completions = read_jsonl_field(args.completions, _COMPLETION_KEYS, "a completion",
                                       (str, list))  # fmt: skip
        gts, columns = _ground_truths(args.ground_truth)
    except ValueError as e:
        raise SystemExit(f"rankreward score: {e}") from None
    if len(completions) != len(gts):
        raise SystemExit(
            f"rankreward score: {len(completions)} completions ({args.completions}) but "
            f"{len(gts)} ground truths ({args.ground_truth})"
        )
    try:
        options = dict(args.option)
        if args.lenient:
            options["compat"] = "lenient"
        # one builder for every recipe; --state is any state file the reward wrote (a
        # Dr. Seg normalizer file of an earlier release too)
        reward = preset(args.preset, args.ranked, task_key=args.task_key, **options)
        if args.state:
            reward.load(args.state)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"rankreward score: {e}") from None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    bar = (
        tqdm(total=len(completions), desc="scoring", unit="completion", file=sys.stderr)
        if tqdm
        else None
    )
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    # rows go to <out>.partial and take the final name only when every row is written: an
    # interrupted run never leaves a file that looks complete
    partial = None if args.out is None else args.out.with_name(args.out.name + ".partial")
    try:
        out = None if partial is None else partial.open("w", encoding="utf-8")
    except OSError as e:
        raise SystemExit(f"rankreward score: --out {args.out}: {e.strerror or e}") from None
    try:
        for start in range(0, len(completions), args.step_size):
            stop = start + args.step_size
            chunk = {k: v[start:stop] for k, v in columns.items()}
            try:
                b = reward.score(completions[start:stop], gts[start:stop],
                                 reward.tasks_from(chunk), context=chunk)  # fmt: skip
            except (ValueError, TypeError) as e:
                raise SystemExit(
                    f"rankreward score: lines {start + 1}..{min(stop, len(gts))}: {e}"
                ) from None
            reward.commit()  # each chunk is one "step", as in training
            arrays = {name: v for name, v in b.items() if isinstance(v, np.ndarray)}
            for name, values in arrays.items():
                ok = np.isfinite(values)  # a term that does not apply (NaN) is not averaged
                sums[name] = sums.get(name, 0.0) + float(values[ok].sum())
                counts[name] = counts.get(name, 0) + int(ok.sum())
            if out:
                for k in range(len(b["reward"])):
                    row = {name: _json_value(arrays[name][k]) for name in arrays}
                    row["problems"] = b["problems"][k]
                    out.write(json.dumps({"index": start + k, **row}) + "\n")
            if bar:
                bar.update(len(b["reward"]))
    finally:
        if bar:
            bar.close()
        if out:
            out.close()
    if partial is not None:
        os.replace(partial, args.out)
    width = max(map(len, sums), default=0)
    print(f"{len(completions)} completions, means:")
    for name, total in sums.items():
        print(f"  {name:<{width}}  {total / max(counts[name], 1):.4f}")
    return 0


def _json_value(v: Any) -> Any:
    v = v.item()
    return None if isinstance(v, float) and not np.isfinite(v) else v


def main(argv: list[str] | None = None) -> int:
    """Run the ``rankreward`` command.

    Examples:
        >>> main(["--version"])  # doctest: +SKIP
        rankreward 0.1.0
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["eval"]:  # its own parser, shared with examples/eval_drseg.py
        from .evaluation.cli import main as eval_main

        return eval_main(argv[1:])
    if argv[:1] == ["serve"]:  # its own parser (rankreward.serve)
        from ._extras import require

        require("starlette", "serve", "rankreward serve")
        require("uvicorn", "serve", "rankreward serve")
        from .serve import main as serve_main

        return serve_main(argv[1:])
    from .rewards.presets import PRESETS

    parser = argparse.ArgumentParser(prog="rankreward", description="rankreward tools")
    parser.add_argument("--version", action="version", version=f"rankreward {__version__}")
    sub = parser.add_subparsers(dest="command")
    score = sub.add_parser(
        "score",
        help="score a JSONL file of completions with the Dr. Seg reward or a recipe preset",
        description="Score completions with the Dr. Seg reward (paper settings) or a recipe "
        "preset (--preset). Each line of the completions file is a JSON string or an object "
        "with a 'completion' key; each line of the ground-truth file the recipe's ground truth "
        "(a JSON string or list) or an object with a 'solution' or 'ground_truth' key, whose "
        "other keys are per-sample columns (image_size, ...). Chunks of --step-size lines are "
        "one training step each (ranked against the window before the chunk, then appended).",
    )
    score.add_argument("--completions", type=Path, required=True, help="JSONL of completions")
    score.add_argument("--ground-truth", type=Path, required=True, help="JSONL of ground truths")
    score.add_argument("--out", type=Path, help="write one JSON line of components per completion")
    score.add_argument("--step-size", type=int, default=256, help="completions per step (256)")
    score.add_argument("--state", type=Path, help="start from a saved normalizer state (.npz)")
    score.add_argument("--lenient", action="store_true", help="lenient answer parsing")
    score.add_argument("--preset", default="drseg", choices=sorted(PRESETS),
                       help="the recipe (default: the paper's Dr. Seg reward); other columns of "
                            "object lines in --ground-truth (image_size, ...) reach it")  # fmt: skip
    score.add_argument("--ranked", action=argparse.BooleanOptionalAction, default=None,
                       help="ranked or raw (default: the recipe's own choice)")  # fmt: skip
    score.add_argument("--option", type=parse_option, action="append", default=[],
                       metavar="KEY=VALUE", help="a preset option, repeatable (method=od_ap)")  # fmt: skip
    score.add_argument("--task-key", help="the ground-truth column whose values get own windows")
    sub.add_parser(
        "eval",
        help="evaluate a policy: ReasonSeg gIoU/cIoU (SAM2), COCO AP, counting "
        "('rankreward eval --help')",
        add_help=False,
    )
    sub.add_parser(
        "serve",
        help="serve a preset's reward over HTTP, owning its windows for every worker "
        "('rankreward serve --help')",
        add_help=False,
    )
    args = parser.parse_args(argv)
    if args.command == "score":
        if args.step_size < 1:
            parser.error("--step-size must be >= 1")
        return _score(args)
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
