"""A microanneal from a tiny run's checkpoint writes its report, downstream tasks included."""

from __future__ import annotations

import json

import pytest
from test_data import tokenized_source
from test_trainer import config

from curation.tokenize import describe, load_tokenizer
from train import checkpoint as ckpts
from train.anneal import main as anneal_main
from train.config import TrainConfig
from train.downstream import load_task, score_task
from train.model import Transformer
from train.trainer import Trainer


def write_jsonl(path, records) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def scores_of(ckpt: str, task_file: str, tokenizer_path: str) -> dict:
    """A task's metrics for the weights of ``ckpt``, scored apart from the anneal."""
    model = Transformer(TrainConfig.from_dict(ckpts.read_state(ckpt)["config"]).model)
    ckpts.load(ckpt, model, None)
    tok = load_tokenizer(tokenizer_path)
    scores = score_task(model, load_task(task_file), tok, describe(tok, "tokenizer.json"), 4)
    return {k: v for k, v in scores.items() if k not in ("kind", "items")}


def test_microanneal_writes_its_report(tmp_path, tokenizer_path):
    web = tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")
    target = tokenized_source(tmp_path, "target", tokenizer_path, 200, "beta")
    base = Trainer(config(tmp_path, {"web": web}, 4))
    base.fit()
    ckpt = str(tmp_path / "run" / "checkpoints" / "ckpt-0000004")
    # the target's and the web's sentences, as multiple-choice and question/answer tasks
    words = write_jsonl(tmp_path / "words.jsonl", [
        {"question": f"{w} number {i} says", "choices": ["alpha", "beta"], "answer": k}
        for i in range(6) for k, w in enumerate(("alpha", "beta"))])
    counts = write_jsonl(tmp_path / "counts.jsonl", [
        {"question": f"beta number {i} says beta", "answer": f"{i * 7} times."}
        for i in range(4)])
    out = tmp_path / "anneal"
    assert anneal_main([ckpt, "--target", target, "--web", web, "--steps", "3",
                        "--tasks", f"{words},{counts}", "--tokenizer", tokenizer_path,
                        "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["domains"]) == {"target", "web"}
    t = report["domains"]["target"]
    assert t["delta"] == pytest.approx(t["web"] - t["target+web"])
    assert t["delta"] > 0  # annealing on the target lowers the target's BPB more
    assert (out / "report.png").stat().st_size > 1000 and "| target |" in (
        out / "report.md").read_text()

    tasks = report["tasks"]
    assert (tasks["words"]["kind"], tasks["words"]["items"]) == ("mc", 12)
    assert (tasks["counts"]["kind"], tasks["counts"]["items"]) == ("continuation", 4)
    assert set(tasks["words"]["delta"]) == {"acc", "acc_norm"}
    assert set(tasks["counts"]["delta"]) == {"acc", "bpb"}
    # before: the checkpoint's weights; each arm: the weights that arm ended with
    for name, task_file in (("words", words), ("counts", counts)):
        r = tasks[name]
        for arm, path in (("before", ckpt), ("target+web", out / "target+web"),
                          ("web", out / "web")):
            path = str(path) if arm == "before" else ckpts.latest(str(path / "checkpoints"))
            want = scores_of(path, task_file, tokenizer_path)
            assert r[arm] == pytest.approx(want, abs=1e-6), (name, arm)
    c = tasks["counts"]
    assert c["delta"]["bpb"] == pytest.approx(c["web"]["bpb"] - c["target+web"]["bpb"])
    assert c["delta"]["bpb"] > 0  # the target's own sentences: its arm predicts them better
    w = tasks["words"]
    assert w["delta"]["acc"] == pytest.approx(w["target+web"]["acc"] - w["web"]["acc"])
    md = (out / "report.md").read_text()
    assert "| words (mc, 12 items) | acc_norm |" in md
    assert "| counts (continuation, 4 items) | bpb |" in md
