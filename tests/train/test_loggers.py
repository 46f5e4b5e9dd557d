"""TensorBoard and W&B (offline) get the records metrics.jsonl gets, and the config; a resumed
run hides what TensorBoard got after the checkpoint; unknown names and missing packages give
clear errors; neither package is imported unless selected."""

from __future__ import annotations

import subprocess
import sys
import time
import typing

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_data import tokenized_source
from test_trainer import config, metrics

from train.config import LoggerName, TrainConfig
from train.loggers import OPENERS, Loggers
from train.trainer import Trainer


@pytest.fixture(scope="module")
def web(tmp_path_factory, tokenizer_path) -> str:
    return tokenized_source(tmp_path_factory.mktemp("web"), "web", tokenizer_path, 100, "alpha")


def test_tensorboard_holds_the_metrics_and_config_and_forgets_after_a_resume(tmp_path, web):
    cfg = config(tmp_path, {"web": web}, 4, eval_domains={"web": web}, eval_every=2,
                 eval_rows=4, checkpoint_every=2, progress_every=0, loggers=["tensorboard"])
    Trainer(cfg).fit()
    # as if the run had died after logging step 4 but before its checkpoint
    (tmp_path / "run" / "checkpoints" / "latest").write_text("ckpt-0000002")
    Trainer(cfg).fit()  # resumes at step 2, logs steps 3 and 4 again
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    records = metrics(tmp_path / "run")
    for tag, pick in [("loss", lambda r: r.get("loss")), ("lr", lambda r: r.get("lr")),
                      ("tokens_per_s", lambda r: r.get("tokens_per_s")),
                      ("eval_bpb/web", lambda r: r.get("eval_bpb", {}).get("web"))]:
        expected = [(r["step"], pick(r)) for r in records if pick(r) is not None]
        logged = [(e.step, e.value) for e in events.Scalars(tag)]
        assert [s for s, _ in logged] == [s for s, _ in expected] == \
            ([2, 4] if tag == "eval_bpb/web" else [1, 2, 3, 4]), tag
        assert [v for _, v in logged] == pytest.approx([v for _, v in expected], rel=1e-6)
    assert "config/text_summary" in events.Tags()["tensors"]


def test_wandb_writes_an_offline_run_with_the_config(tmp_path, web, monkeypatch):
    for var in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):  # not in $HOME
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    monkeypatch.setenv("WANDB_SILENT", "true")
    Trainer(config(tmp_path, {"web": web}, 2, progress_every=0, loggers=["wandb"],
                   wandb_project="tests")).fit()
    [run] = (tmp_path / "run" / "wandb").glob("offline-run-*")
    [log] = run.glob("run-*.wandb")  # what `wandb sync` uploads: config items and history
    records = log.read_bytes()
    for _ in range(100):  # wandb's service may still be appending to it after finish()
        if b"tokens_per_s" in records:
            break
        time.sleep(0.1)
        records = log.read_bytes()
    assert b"wandb_project" in records and b'"tests"' in records and b"tokens_per_s" in records
    assert len(metrics(tmp_path / "run")) == 2


def test_unknown_loggers_and_missing_packages_are_named(tmp_path, monkeypatch):
    assert set(OPENERS) == set(typing.get_args(LoggerName))
    raw = config(tmp_path, {"web": "x"}, 1).to_dict() | {"loggers": ["tensorbord"]}
    with pytest.raises(ValueError, match=r"loggers\[0\]: expected one of 'tensorboard', "):
        TrainConfig.from_dict(raw)
    with pytest.raises(ValueError, match="unknown logger 'mlflow' .known: tensorboard, wandb"):
        config(tmp_path, {"web": "x"}, 1, loggers=["mlflow"])
    for name, module in [("tensorboard", "torch.utils.tensorboard"), ("wandb", "wandb")]:
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed
        with pytest.raises(ImportError, match=rf"{name} package: pip install 'curation\[train\]'"):
            Loggers(config(tmp_path, {"web": "x"}, 1, loggers=[name]))


def test_the_trainer_imports_neither_package():
    code = ("import sys, train.trainer; "
            "print([m for m in ('wandb', 'tensorboard') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
