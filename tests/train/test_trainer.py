"""The training loop on CPU with a tiny model: loss falls, stages switch, micro-batches are
weighted by their labelled tokens."""

from __future__ import annotations

import json

import pytest
import torch
from test_data import tokenized_source

from curation import Pipeline, read
from curation.samples import build_python_docs_corpus
from curation.tokenize import Tokenize
from train.config import StageConfig, TrainConfig
from train.model import ModelConfig
from train.optim import OptimConfig
from train.trainer import Trainer


def tiny_model(**kw) -> ModelConfig:
    return ModelConfig(**({"vocab_size": 400, "dim": 32, "n_layers": 2, "n_heads": 4,
                           "n_kv_heads": 2, "max_seq_len": 64} | kw))


@pytest.fixture(scope="module")
def python_docs_tokens(tmp_path_factory, tokenizer_path) -> str:
    root = tmp_path_factory.mktemp("docs")
    files = build_python_docs_corpus(str(root / "raw"))
    p = Pipeline("docs", str(root / "w"))
    p.sink(p.source(read(files, source="python-docs")) >> Tokenize(tokenizer_path),
           str(root / "tokens"))
    p.run(progress=False)
    return str(root / "tokens")


def metrics(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def config(tmp_path, sources: dict[str, str], steps: int, **kw) -> TrainConfig:
    return TrainConfig(
        model=kw.pop("model", tiny_model()),
        stages=kw.pop("stages", [StageConfig("main", sources, steps, seq_len=32,
                                             warmup_steps=2)]),
        out_dir=str(tmp_path / "run"), optim=OptimConfig(lr=3e-3), batch_rows=4,
        cache_dir=str(tmp_path / "cache"), **kw)


def test_tiny_model_loss_falls_on_the_demo_corpus(tmp_path, python_docs_tokens):
    cfg = config(tmp_path, {"docs": python_docs_tokens}, 40,
                 eval_domains={"docs": python_docs_tokens}, eval_rows=8)
    trainer = Trainer(cfg)
    before = trainer.evaluate()["docs"]
    last = trainer.fit()
    lines = metrics(tmp_path / "run")
    first_losses = [r["ce"] for r in lines[:5]]
    last_losses = [r["ce"] for r in lines if "ce" in r][-5:]
    assert sum(last_losses) / 5 < 0.8 * sum(first_losses) / 5
    assert last["eval_bpb"]["docs"] < 0.8 * before


def test_stages_switch_mix_and_context(tmp_path, tokenizer_path):
    web = tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")
    code = tokenized_source(tmp_path, "code", tokenizer_path, 200, "beta")
    stages = [StageConfig("pretrain", {"web": web}, 3, seq_len=16),
              StageConfig("midtrain", {"web": web, "code": code}, 2, seq_len=16,
                          weights={"web": 0.5, "code": 0.5}, schedule="linear_to_zero"),
              StageConfig("long", {"code": code}, 2, seq_len=96, schedule="constant",
                          rope_scaling={"kind": "theta", "theta": 100000.0})]
    trainer = Trainer(config(tmp_path, {}, 0, stages=stages))
    trainer.fit()
    assert trainer.step == 7 and trainer.model.cfg.max_seq_len == 96
    assert trainer.model.rope_cos_global.shape[0] == 96
    assert not torch.equal(trainer.model.rope_cos_global[:64], trainer.model.rope_cos_local[:64])
    stages_seen = [r["stage"] for r in metrics(tmp_path / "run")]
    assert stages_seen == ["pretrain"] * 3 + ["midtrain"] * 2 + ["long"] * 2


def test_best_fit_stage_runs_with_the_pad_id(tmp_path, tokenizer_path):
    web = tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")
    stages = [StageConfig("pretrain", {"web": web}, 2, seq_len=16),
              StageConfig("long", {"web": web}, 3, seq_len=96, schedule="constant",
                          packing="best_fit", rope_scaling={"kind": "theta", "theta": 1e5})]
    trainer = Trainer(config(tmp_path, {}, 0, stages=stages, tokenizer_path=tokenizer_path))
    assert trainer.pad_id == 1  # the test tokenizer's <|pad|>
    trainer.fit()
    assert trainer.step == 5 and trainer._loader[1].packing == "best_fit"
    batch = trainer._loader[1].batch(0)
    assert (batch["input_ids"] == 1).any()  # whole documents, padded rows
    lines = metrics(tmp_path / "run")
    assert [r["stage"] for r in lines] == ["pretrain"] * 2 + ["long"] * 3
    assert all(0 < r["ce"] < 10 for r in lines)


def test_grad_accum_matches_one_big_micro_batch(tmp_path, tokenizer_path):
    """Micro-batch losses are weighted by labelled tokens, so accumulating 2 x 2 rows is the
    token-mean gradient of 4 rows (up to float summation order)."""
    src = {"web": tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")}
    one = Trainer(config(tmp_path / "a", src, 3))
    one.fit()
    acc = config(tmp_path / "b", src, 3, grad_accum=2)
    acc.batch_rows = 2
    two = Trainer(acc)
    two.fit()
    a, b = one.model.state_dict(), two.model.state_dict()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5


def test_a_micro_batch_without_labels_adds_nothing(tmp_path, tokenizer_path):
    """A micro-batch whose labels are all IGNORE (e.g. best-fit rows of padding and EOS) has
    weight 0: the step equals one over the other micro-batch alone, and the logged losses are
    that micro-batch's (not NaN)."""
    src = {"web": tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")}
    acc_cfg = config(tmp_path / "a", src, 1, grad_accum=2)
    acc_cfg.batch_rows = 2
    acc = Trainer(acc_cfg)
    one_cfg = config(tmp_path / "b", src, 1)
    one_cfg.batch_rows = 2
    one = Trainer(one_cfg)
    batch = acc.loader(0, 0).batch(0)
    batch["labels"][:2] = -100
    acc.loader(0, 0).batch = lambda step: batch
    one.loader(0, 0).batch = lambda step: {k: v[2:] for k, v in batch.items()}
    got, want = acc.train_step(), one.train_step()
    assert got["ce"] == pytest.approx(want["ce"], rel=1e-6)
    a, b = acc.model.state_dict(), one.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
