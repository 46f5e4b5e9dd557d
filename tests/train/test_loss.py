"""The torch reference of the language-model losses (train.loss) against a per-row loop, and
the model's losses with and without returning logits."""

from __future__ import annotations

import math

import torch

from train.loss import IGNORE_INDEX, lm_losses, lm_losses_torch
from train.model import ModelConfig, Transformer


def _per_row(logits: torch.Tensor, labels: torch.Tensor, cap: float) -> tuple[float, float]:
    ce, z, n = 0.0, 0.0, 0
    for row, label in zip(logits.tolist(), labels.tolist(), strict=True):
        if label == IGNORE_INDEX:
            continue
        c = [cap * math.tanh(x / cap) for x in row] if cap > 0 else row
        top = max(c)
        lse = top + math.log(sum(math.exp(x - top) for x in c))
        ce, z, n = ce + lse - c[label], z + lse * lse, n + 1
    return ce / n, z / n


def test_reference_matches_a_per_row_loop():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(9, 13, generator=g, dtype=torch.float64) * 8
    labels = torch.randint(0, 13, (9,), generator=g)
    labels[[2, 5]] = IGNORE_INDEX
    for cap in (0.0, 5.0):
        ce, z = lm_losses_torch(logits, labels, cap)
        want_ce, want_z = _per_row(logits, labels, cap)
        assert math.isclose(ce.item(), want_ce, rel_tol=1e-5)
        assert math.isclose(z.item(), want_z, rel_tol=1e-5)
    assert torch.isnan(lm_losses_torch(logits, torch.full((9,), IGNORE_INDEX))[0])


def test_model_losses_without_logits_are_the_same():
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=32, dim=16, n_layers=1, n_heads=2, n_kv_heads=1,
                      ffn_hidden=32, max_seq_len=8, logit_softcap=4.0)
    model = Transformer(cfg)
    ids = torch.randint(0, 32, (2, 8))
    labels = torch.randint(0, 32, (2, 8))
    logits, losses = model(ids, labels=labels)
    none, same = model(ids, labels=labels, return_logits=False)
    assert none is None and logits.abs().max() <= 4.0
    for key in ("ce", "z_loss", "loss"):
        torch.testing.assert_close(same[key], losses[key])
    ce, _ = lm_losses(logits.flatten(0, 1), labels.reshape(-1))  # returned logits are capped
    torch.testing.assert_close(ce, losses["ce"])
