"""The sdist and wheel build, and the wheel works in a fresh environment with only the core
dependencies: no torch, trl or pycocotools is imported, the version is single-sourced."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import rankreward

ROOT = Path(__file__).resolve().parents[2]

SMOKE = """
import sys
import numpy as np
import rankreward
from rankreward import RankNormalizer
from rankreward.metrics import box_iou
norm = RankNormalizer.paper()
assert norm.update_and_rank(np.array([[0.5, 1.0, 0.0]])).tolist() == [[1.0, 1.0, 1.0]]
iou = box_iou(np.array([[0.0, 0.0, 10.0, 10.0]]), np.array([[0.0, 0.0, 10.0, 5.0]]))
assert abs(iou[0, 0] - 0.5) < 1e-12
heavy = sorted(m for m in ("torch", "trl", "pycocotools", "transformers") if m in sys.modules)
assert not heavy, heavy
print(rankreward.__version__)
"""


@pytest.mark.slow
def test_wheel_installs_and_runs_with_core_dependencies_only(tmp_path):
    pytest.importorskip("build")
    # setuptools reuses ROOT/build/lib without isolation: a module deleted from src/ would
    # still be packed from there (it hid a missing file once), so build from a clean state
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--sdist",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("rankreward-*.whl"))
    sdist = next(dist.glob("rankreward-*.tar.gz"))
    version = rankreward.__version__
    assert wheel.name.startswith(f"rankreward-{version}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "rankreward/py.typed" in names and "rankreward/metrics/coco/__init__.py" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert not any(n.startswith("tests/") for n in names)
    with tarfile.open(sdist) as tar:
        assert any(n.endswith("/LICENSE") for n in tar.getnames())

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True)
    frozen = subprocess.run(
        [str(py), "-m", "pip", "freeze"], check=True, capture_output=True, text=True
    ).stdout.lower()
    for extra in ("torch", "trl", "pycocotools", "transformers", "ray"):
        assert f"\n{extra}==" not in "\n" + frozen, f"{extra} installed with the core wheel"
    out = subprocess.run([str(py), "-c", SMOKE], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == version
    cli = subprocess.run(
        [str(venv / "bin" / "rankreward"), "--version"], check=True, capture_output=True, text=True
    )
    assert version in cli.stdout


def test_all_extra_has_every_user_extra_and_no_dev_tools():
    """`pip install "rankreward[all]"` brings every user-facing extra but the trainers whose
    pins conflict (verl, openrlhf), and none of the development tools, which are `[dev]`."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    dev_only, conflicting = {"test", "docs", "bench", "dev"}, {"verl", "openrlhf"}
    (all_spec,) = extras["all"]
    named = set(all_spec.split("[")[1].rstrip("]").split(","))
    assert named == set(extras) - dev_only - conflicting - {"all"}
    (dev_spec,) = extras["dev"]
    assert set(dev_spec.split("[")[1].rstrip("]").split(",")) == {"test", "docs", "bench"}
