"""Command line entry point: ``rankreward --version``, ``score``, ``eval`` and ``serve``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._version import __version__
from .jsonl import read_jsonl_field

_COMPLETION_KEYS = ("completion", "response", "text", "output")
_GT_KEYS = ("ground_truth", "solution", "label", "answer")


def _score(args: argparse.Namespace) -> int:
    from .drseg import DrSegReward
    from .normalize import RankNormalizer

    try:
        completions = read_jsonl_field(args.completions, _COMPLETION_KEYS, "a completion",
                                       (str, list))  # fmt: skip
        gts = read_jsonl_field(args.ground_truth, _GT_KEYS, "a ground truth", (str, list))
    except ValueError as e:
        raise SystemExit(f"rankreward score: {e}") from None
    if len(completions) != len(gts):
        raise SystemExit(
            f"rankreward score: {len(completions)} completions ({args.completions}) but "
            f"{len(gts)} ground truths ({args.ground_truth})"
        )
    normalizer = RankNormalizer.paper()
    if args.state:
        try:
            normalizer.load(args.state)
        except (OSError, ValueError, KeyError) as e:
            raise SystemExit(f"rankreward score: --state {args.state}: {e}") from None
    reward = DrSegReward(normalizer=normalizer, compat="lenient" if args.lenient else "released")
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
    out = args.out.open("w", encoding="utf-8") if args.out else None
    try:
        for start in range(0, len(completions), args.step_size):
            stop = start + args.step_size
            try:
                b = reward.score(completions[start:stop], gts[start:stop])
            except ValueError as e:
                raise SystemExit(f"lines {start + 1}..{min(stop, len(gts))}: {e}") from None
            reward.commit()  # each chunk is one "step", as in training
            arrays = {name: v for name, v in b.items() if name != "problems"}
            for name, values in arrays.items():
                sums[name] = sums.get(name, 0.0) + float(values.sum())
            if out:
                for k in range(len(b["reward"])):
                    row = {name: arrays[name][k].item() for name in arrays}
                    row["problems"] = b["problems"][k]
                    out.write(json.dumps({"index": start + k, **row}) + "\n")
            if bar:
                bar.update(len(b["reward"]))
    finally:
        if bar:
            bar.close()
        if out:
            out.close()
    n = max(len(completions), 1)
    width = max(map(len, sums), default=0)
    print(f"{len(completions)} completions, means:")
    for name, total in sums.items():
        print(f"  {name:<{width}}  {total / n:.4f}")
    return 0


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
    if argv[:1] == ["serve"]:  # its own parser (rankreward.service)
        from ._extras import require

        require("starlette", "serve", "rankreward serve")
        require("uvicorn", "serve", "rankreward serve")
        from .service import main as serve_main

        return serve_main(argv[1:])
    parser = argparse.ArgumentParser(prog="rankreward", description="rankreward tools")
    parser.add_argument("--version", action="version", version=f"rankreward {__version__}")
    sub = parser.add_subparsers(dest="command")
    score = sub.add_parser(
        "score",
        help="score a JSONL file of completions with the Dr. Seg reward",
        description="Score completions with the Dr. Seg reward (paper settings). Each line of "
        "the completions file is a JSON string or an object with a 'completion' key; each line "
        "of the ground-truth file a JSON list/string of bbox_2d/point_2d objects or an object "
        "with a 'solution' or 'ground_truth' key. Chunks of --step-size lines are one training "
        "step each (ranked against the window before the chunk, then appended).",
    )
    score.add_argument("--completions", type=Path, required=True, help="JSONL of completions")
    score.add_argument("--ground-truth", type=Path, required=True, help="JSONL of ground truths")
    score.add_argument("--out", type=Path, help="write one JSON line of components per completion")
    score.add_argument("--step-size", type=int, default=256, help="completions per step (256)")
    score.add_argument("--state", type=Path, help="start from a saved normalizer state (.npz)")
    score.add_argument("--lenient", action="store_true", help="lenient answer parsing")
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
