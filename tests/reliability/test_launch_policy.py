"""One launch policy for every parallel Numba kernel (`rankreward._parallel`): every
``parallel=True`` kernel is launched through `launch` (static check), and every public kernel
runs from 8 threads at once under Numba's workqueue layer (which aborts on concurrent parallel
launches) and under the default layer, each in a subprocess."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "rankreward"


def test_every_parallel_kernel_goes_through_launch():
    texts = {path: path.read_text() for path in SRC.rglob("*.py")}
    everything = "\n".join(texts.values())
    names = [
        (path.name, name)
        for path, text in texts.items()
        for name in re.findall(r"@nb\.njit\([^)]*parallel=True[^)]*\)\ndef (\w+)\(", text)
    ]
    assert len(names) >= 9
    for where, name in names:
        direct = [
            line
            for line in everything.splitlines()
            if re.search(rf"(?<![\w.]){name}\(", line) and not line.lstrip().startswith("def ")
        ]
        assert not direct, f"{where}: {name} is called directly: {direct}"
        assert re.search(rf"launch[(,].{{0,200}}?{name}", everything, re.S), f"{where}: {name}"


SCRIPT = textwrap.dedent("""
    import threading
    import numpy as np
    from rankreward import RankNormalizer
    from rankreward.rewards.recipes.drseg import DrSegReward
    from rankreward.metrics import (box_iou, coco_evaluate, hungarian_match_padded,
        mask_intersection_union, mask_iou, mask_to_rle)
    from rankreward.testing.synthetic import synthetic_batch, synthetic_coco

    rng = np.random.default_rng(0)
    boxes = np.sort(rng.uniform(0, 100, (400, 4)), axis=1)[:, [0, 1, 2, 3]]
    masks = rng.random((8, 64, 64)) > 0.5
    rles = [mask_to_rle(m) for m in rng.random((70, 40, 40)) > 0.5]
    costs = rng.random((300, 6, 6))
    gt, dets = synthetic_coco(20, 3, rng, dets_per_image=10)
    texts, gts = synthetic_batch(128, rng)
    errors = []

    def work(i):
        try:
            for _ in range(3):
                box_iou(boxes, boxes)
                mask_intersection_union(masks, masks[::-1])
                mask_iou(rles, rles)
                hungarian_match_padded(costs)
                coco_evaluate(gt, dets)
                DrSegReward().score(texts, gts)
                norm = RankNormalizer(3, window=1 << 17, backend="numba")
                norm.update_and_rank(rng.random((1 << 16, 3)))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    print("ok")
""")


@pytest.mark.slow
@pytest.mark.parametrize("layer", ["workqueue", "default"])
def test_public_kernels_from_eight_threads(layer, tmp_path):
    import os

    env = dict(os.environ)
    if layer == "workqueue":
        env["NUMBA_THREADING_LAYER"] = "workqueue"
    else:
        env.pop("NUMBA_THREADING_LAYER", None)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
