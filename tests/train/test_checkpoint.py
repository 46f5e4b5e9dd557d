"""Checkpoints through the trainer on CPU: a resumed run reaches bitwise the weights of an
uninterrupted one (after a context extension, with MoE biases, AdamW or Muon)."""

from __future__ import annotations

import pytest
import torch
from test_data import tokenized_source
from test_trainer import config, metrics, tiny_model

from train.config import StageConfig
from train.optim import OptimConfig
from train.trainer import Trainer


def test_resume_reaches_bitwise_the_same_weights(tmp_path, tokenizer_path):
    src = {"web": tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")}
    straight = Trainer(config(tmp_path / "a", src, 6))
    straight.fit()

    interrupted = Trainer(config(tmp_path / "b", src, 6))
    for _ in range(3):
        interrupted.train_step()
    interrupted.save()
    interrupted.train_step()  # work after the checkpoint is lost with the "crash"
    resumed = Trainer(config(tmp_path / "b", src, 6))
    resumed.fit()
    assert resumed.step == 6
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [r["step"] for r in metrics(tmp_path / "b" / "run")]
    assert steps == sorted(set(steps))  # no step logged twice


def test_resume_after_a_context_extension_stage_is_bitwise(tmp_path, tokenizer_path):
    """A run resumed in a stage after a context extension trains with the extended RoPE (the
    RoPE tables are not checkpointed: the stages before the checkpoint are replayed)."""
    web = tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")
    stages = [StageConfig("pretrain", {"web": web}, 2, seq_len=16),
              StageConfig("long", {"web": web}, 2, seq_len=96, schedule="constant",
                          rope_scaling={"kind": "theta", "theta": 1e5}),
              StageConfig("after", {"web": web}, 2, seq_len=32, schedule="constant")]
    straight = Trainer(config(tmp_path / "a", {}, 0, stages=stages))
    straight.fit()
    interrupted = Trainer(config(tmp_path / "b", {}, 0, stages=stages))
    for _ in range(5):
        interrupted.train_step()
    interrupted.save()
    resumed = Trainer(config(tmp_path / "b", {}, 0, stages=stages))
    resumed.fit()
    assert resumed.step == 6
    assert resumed.model.cfg.max_seq_len == straight.model.cfg.max_seq_len == 96
    assert torch.equal(resumed.model.rope_cos_global, straight.model.rope_cos_global)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("optim", ["adamw", "muon"])
def test_resume_is_bitwise_with_moe_biases_and_muon(tmp_path, tokenizer_path, optim):
    """The MoE balancing biases and the Muon / AdamW state come back from a checkpoint."""
    from train.moe import MoEConfig

    src = {"web": tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")}
    model = tiny_model(moe=MoEConfig(n_experts=4, top_k=2, expert_hidden=16,
                                     bias_update_rate=1e-2, aux_loss_coef=1e-2))

    def cfg(name):
        c = config(tmp_path / name, src, 5, model=model)
        c.optim = OptimConfig(name=optim, lr=3e-3)
        return c

    straight = Trainer(cfg("a"))
    straight.fit()
    interrupted = Trainer(cfg("b"))
    for _ in range(3):
        interrupted.train_step()
    interrupted.save()
    interrupted.train_step()
    resumed = Trainer(cfg("b"))
    resumed.fit()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert any(k.endswith("expert_bias") and a[k].abs().sum() > 0 for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a)
