"""The demo pipeline, ``curate inspect --html`` on its output, and both notebooks executed on
it (nbclient, a real kernel), so none of them can rot."""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from curation.cli import main
from train.config import StageConfig, TrainConfig
from train.model import ModelConfig
from train.optim import OptimConfig
from train.trainer import Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> str:
    """The README's demo (600 synthetic documents, local executor) in a temporary dir."""
    workdir = str(tmp_path_factory.mktemp("demo"))
    run = subprocess.run([sys.executable, "-m", "curation.cli", "run",
                          os.path.join(ROOT, "pipelines", "demo.py"), "--set",
                          f"workdir={workdir}", "--set", "docs=600"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "tokens in" in run.stdout and "decontaminate" in run.stdout
    return workdir


def execute(notebook: str, env: dict[str, str], monkeypatch) -> nbformat.NotebookNode:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    nb = nbformat.read(os.path.join(ROOT, "notebooks", notebook), as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": os.path.join(ROOT, "notebooks")}}).execute()
    return nb


def outputs_of(nb) -> list[dict]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def test_inspect_html_on_the_demo(demo, capsys):
    html = os.path.join(demo, "report.html")
    assert main(["inspect", os.path.join(demo, "work"), "--html", html]) == 0
    assert "min_hash_dedup" in capsys.readouterr().out
    with open(html, encoding="utf-8") as f:
        page = f.read()
    assert page.count("data:image/png;base64,") >= 3


def test_inspect_mix_notebook_runs_on_the_demo(demo, monkeypatch):
    nb = execute("inspect_mix.ipynb", {"CURATE_NB_WORKDIR": os.path.join(demo, "work"),
                                       "CURATE_NB_OUTPUT": os.path.join(demo, "out")},
                 monkeypatch)
    outputs = outputs_of(nb)
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 1  # the funnel at least
    assert not [o for o in outputs if o.output_type == "error"]


def test_microanneal_notebook_runs_on_a_tiny_anneal(demo, tmp_path, monkeypatch):
    from train.anneal import microanneal

    tokens = os.path.join(demo, "out")
    cfg = TrainConfig(ModelConfig(vocab_size=8192, dim=32, n_layers=2, n_heads=4,
                                  max_seq_len=32),
                      [StageConfig("base", {"demo": tokens}, 3, seq_len=32)],
                      out_dir=str(tmp_path / "base"), optim=OptimConfig(lr=3e-3), batch_rows=4,
                      cache_dir=str(tmp_path / "cache"))
    Trainer(cfg).fit()
    ckpt = str(tmp_path / "base" / "checkpoints" / "ckpt-0000003")
    microanneal(ckpt, tokens, tokens, {"demo": tokens}, 2, str(tmp_path / "anneal"))
    nb = execute("microanneal.ipynb", {"CURATE_NB_ANNEAL": str(tmp_path / "anneal")},
                 monkeypatch)
    assert sum("image/png" in o.get("data", {}) for o in outputs_of(nb)) == 2
