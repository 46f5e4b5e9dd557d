"""A microanneal from a tiny run's checkpoint writes its report."""

from __future__ import annotations

import json

import pytest
from test_data import tokenized_source
from test_trainer import config

from train.anneal import main as anneal_main
from train.trainer import Trainer


def test_microanneal_writes_its_report(tmp_path, tokenizer_path):
    web = tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")
    target = tokenized_source(tmp_path, "target", tokenizer_path, 200, "beta")
    base = Trainer(config(tmp_path, {"web": web}, 4))
    base.fit()
    ckpt = str(tmp_path / "run" / "checkpoints" / "ckpt-0000004")
    out = tmp_path / "anneal"
    assert anneal_main([ckpt, "--target", target, "--web", web, "--steps", "3",
                        "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["domains"]) == {"target", "web"}
    t = report["domains"]["target"]
    assert t["delta"] == pytest.approx(t["web"] - t["target+web"])
    assert t["delta"] > 0  # annealing on the target lowers the target's BPB more
    assert (out / "report.png").stat().st_size > 1000 and "| target |" in (
        out / "report.md").read_text()
