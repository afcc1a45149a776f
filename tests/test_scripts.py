"""The demo, the benchmark (quick grid) and the CLI run end to end."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_normalizer_demo_resumes_identically(tmp_path, capsys):
    demo = load(ROOT / "examples" / "normalizer_demo.py")
    assert demo.main(["--steps", "6", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Resumed run gives identical ranks: True" in out
    assert (tmp_path / "normalizer.npz").exists()


@pytest.mark.slow
def test_bench_rank_quick_writes_table(tmp_path):
    pytest.importorskip("matplotlib")
    bench = load(ROOT / "benchmarks" / "bench_rank.py")
    table = bench.main(["--quick", "--budget", "0.05", "--out", str(tmp_path / "t.md"),
                        "--plot", str(tmp_path / "p.png")])  # fmt: skip
    assert "(b) numpy searchsorted + re-sort" in table and "best vs (b)" in table
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert (tmp_path / "t.md").read_text().count("\n") >= 4


def test_cli_version():
    out = subprocess.run([sys.executable, "-m", "rankreward.cli", "--version"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    from rankreward import __version__

    assert out.stdout.strip() == f"rankreward {__version__}"
