"""Documentation: the MkDocs site builds strictly, and every public function and class has a
docstring with an example (the examples themselves run as doctests in the suite)."""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PUBLIC_MODULES = [
    "rankreward",
    "rankreward.normalize",
    "rankreward.metrics",
    "rankreward.rewards.recipes.drseg",
    "rankreward.adapters.trl",
    "rankreward.adapters.verl",
    "rankreward.adapters.openrlhf",
    "rankreward.adapters.easyr1",
    "rankreward.adapters.swift",
    "rankreward.adapters.remote",
    "rankreward.serve",
    "rankreward.arguments",
    "rankreward.distributed",
    "rankreward.evaluation",
    "rankreward.rewards",
]


def public_objects():
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield f"{name}.{attr}", obj


@pytest.mark.parametrize(
    ("name", "obj"), list(public_objects()), ids=lambda x: x if isinstance(x, str) else ""
)
def test_public_api_has_docstring_with_example(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{name} has no docstring"
    assert ">>>" in doc or "Example" in doc, f"{name}'s docstring has no example"


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    if shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mkdocs is not installed (scripts/test.sh installs the docs extra)")
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent)},
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert (tmp_path / "site" / "api" / "normalize" / "index.html").exists()


def _python_blocks(page: str) -> list[str]:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```$", text, re.S | re.M)


def test_the_custom_reward_example_runs_as_written(capsys):
    # docs/rewards.md says this block runs as written: it must, and print what it says
    block = next(b for b in _python_blocks("rewards.md") if "mixed = ComponentReward" in b)
    exec(compile(block, "docs/rewards.md", "exec"), {})
    assert " ".join(capsys.readouterr().out.split()) == "[ 1. nan] [4. 0.]"


def test_the_readme_grpo_snippet_builds_its_reward():
    # everything but the GRPOTrainer call (a model is needed there) runs as written
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"^```python\n(.*?)^```$", text, re.S | re.M)
                 if "trl_rewards(" in b and "GRPOTrainer(model=model" in b)  # fmt: skip
    setup = block.split("trainer = GRPOTrainer(")[0]
    scope: dict = {}
    exec(compile(setup, "README.md", "exec"), scope)
    kwargs = scope["rewards"].trainer_kwargs()
    assert len(kwargs["reward_funcs"]) == 4 and len(kwargs["callbacks"]) == 1


@pytest.mark.parametrize("page", ["why-rank.md"])
def test_snippets_print_what_the_docs_say(page, capsys):
    # a ```python block followed by a ```text block: the block runs, and prints the text
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    pairs = re.findall(r"^```python\n(.*?)^```\n\n```text\n(.*?)^```$", text, re.S | re.M)
    assert pairs, f"{page} has no python block with its output"
    for code, output in pairs:
        exec(compile(code, page, "exec"), {})
        assert capsys.readouterr().out == output


RECIPE_SECTIONS = ("Published:", "Answer:", "Ground truth:", "Options:", "Frame:", "Deviations:",
                   "Examples:")  # fmt: skip


@pytest.mark.parametrize("name", sorted(importlib.import_module("rankreward.rewards").PRESETS))
def test_recipe_reference_is_each_presets_docstring(name):
    """docs/recipes.md renders every preset builder's docstring, and each docstring states the
    published definition (with a link), the formats, options, frame and deviations."""
    from rankreward.rewards import PRESETS

    builder = PRESETS[name]
    doc = inspect.getdoc(builder)
    missing = [s for s in RECIPE_SECTIONS if f"\n{s}\n" not in f"\n{doc}\n"]
    assert not missing, f"{builder.__qualname__} lacks {missing}"
    published = doc.split("Published:")[1].split("Answer:")[0]
    assert "https://github.com/" in published
    page = (ROOT / "docs" / "recipes.md").read_text()
    assert f"## `{name}`\n\n::: {builder.__module__}.{builder.__qualname__}\n" in page


def test_paper_citations_point_at_the_projects_own_page():
    """The protocols are stated in docs/paper.md; nothing cites a file outside the repository."""
    for path in [*ROOT.glob("src/**/*.py"), *ROOT.glob("docs/**/*.md"), ROOT / "README.md"]:
        assert "drseg-reference" not in path.read_text(), path
    assert "arxiv.org/abs/2603.00152" in (ROOT / "docs" / "paper.md").read_text()


def _fenced_python(text: str) -> list[tuple[str, str, int, str | None]]:
    """Each ```python block of a page: (the line before it, its code, its line, the ```text
    block right after it if any)."""
    lines, blocks, i = text.split("\n"), [], 0
    while i < len(lines):
        if lines[i] == "```python":
            end = lines.index("```", i + 1)
            output = None
            if end + 2 < len(lines) and lines[end + 1] == "" and lines[end + 2] == "```text":
                stop = lines.index("```", end + 3)
                output = "\n".join(lines[end + 3 : stop]) + "\n"
            blocks.append((lines[i - 1] if i else "", "\n".join(lines[i + 1 : end]) + "\n",
                           i + 1, output))  # fmt: skip
            i = end
        i += 1
    return blocks


DOC_PAGES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("docs/*.md"))]


@pytest.mark.parametrize("page", DOC_PAGES)
def test_every_python_snippet_runs(page, tmp_path, monkeypatch, capsys):
    """Every ```python block of the README and the docs runs as written (a page's blocks in
    order, sharing names, in an empty folder), and prints the ```text block that follows it;
    a block that cannot run here says why in a `<!-- not run: reason -->` line above it."""
    monkeypatch.chdir(tmp_path)
    scope: dict = {"__name__": "__docs__"}
    for before, code, line, output in _fenced_python((ROOT / page).read_text(encoding="utf-8")):
        marker = re.fullmatch(r"<!-- not run: (.+) -->", before)
        if marker:
            continue
        exec(compile(code, f"{page}:{line}", "exec"), scope)
        printed = capsys.readouterr().out
        if output is not None:
            assert printed == output, f"{page}:{line} printed {printed!r}"
