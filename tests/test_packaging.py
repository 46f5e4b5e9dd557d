"""``pip install .`` without extras gives the curation toolkit alone: it installs in a new venv
from the tested set (requirements-tested.txt as constraints), without torch, with the package's
data files, and runs a filter-and-dedup pipeline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ("pyproject.toml", "README.md", "curation", "pipelines", "classifiers", "train")

PIPELINE = textwrap.dedent("""
    import importlib.util, sys
    from curation import Pipeline, read
    from curation.dedup import ExactDedup, MinHashDedup
    from curation.filters import C4Quality, GopherQuality
    from curation.synthetic import GeneratorConfig, generate

    assert all(importlib.util.find_spec(m) is None
               for m in ("torch", "triton", "sentence_transformers", "lm_eval", "jieba",
                         "sudachipy")), "an extra got installed"
    root = sys.argv[1]
    generate(root + "/in", GeneratorConfig(docs=1000, seed=0))
    p = Pipeline("core", root + "/w")
    docs = p.source(read(root + "/in/docs"))
    p.sink(docs >> GopherQuality() >> C4Quality() >> ExactDedup(partitions=2)
           >> MinHashDedup(partitions=2), root + "/o")
    result = p.run(progress=False)
    print("docs out", result.stats["min_hash_dedup"].docs_out)
""")


@pytest.mark.slow
def test_the_toolkit_alone_installs_and_runs_without_torch(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if os.path.isdir(os.path.join(REPO, name)) else shutil.copy
        copy(os.path.join(REPO, name), source / name,
             **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree
                else {}))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         "-c", os.path.join(REPO, "requirements-tested.txt"), str(source)],
        capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    (tmp_path / "p.py").write_text(PIPELINE)
    run = subprocess.run([str(venv / "bin" / "python"), str(tmp_path / "p.py"),
                          str(tmp_path / "run")], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert int(run.stdout.split("docs out")[1]) > 500
