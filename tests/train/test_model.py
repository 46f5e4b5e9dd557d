"""The transformer: masking and positions end to end, GQA, soft-capping, losses, counts,
RoPE scaling, and a tiny model overfitting one batch."""

from __future__ import annotations

import math

import pytest
import torch

from train.model import (
    IGNORE_INDEX,
    Attention,
    ModelConfig,
    RopeScaling,
    Transformer,
    flops_per_token,
    num_parameters,
    param_counts,
    rope_frequencies,
    rope_table,
)
from train.moe import MoEConfig
from train.optim import OptimConfig, build_optimizer, clip_grad_norm

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/train/conftest.py


def tiny(**kw) -> ModelConfig:
    base = dict(vocab_size=64, dim=32, n_layers=4, n_heads=4, n_kv_heads=2, max_seq_len=32)
    return ModelConfig(**{**base, **kw})


TINY_MOE = MoEConfig(n_experts=4, top_k=2, expert_hidden=16, n_shared=1, aux_loss_coef=0.01)


def test_layer_patterns():
    cfg = tiny(n_layers=8, window=4, window_pattern="SSSF", nope_every=4)
    assert [cfg.is_windowed(i) for i in range(8)] == [1, 1, 1, 0, 1, 1, 1, 0]
    assert [cfg.uses_rope(i) for i in range(8)] == [1, 1, 1, 0, 1, 1, 1, 0]
    cfg = tiny(n_layers=3, window=4, window_pattern="S")
    assert [cfg.is_windowed(i) for i in range(3)] == [True, True, False]  # last layer is full
    with pytest.raises(ValueError, match="window"):
        tiny(window_pattern="SF")
    with pytest.raises(ValueError, match="n_kv_heads"):
        tiny(n_heads=4, n_kv_heads=3)


@pytest.mark.parametrize("moe", [None, TINY_MOE])
def test_packed_documents_equal_separate_sequences(moe):
    """Document masking + relative RoPE: a packed row gives each document the logits it gets
    alone (windowed, NoPE, GQA and MoE layers included)."""
    torch.manual_seed(0)
    cfg = tiny(window=3, window_pattern="SF", nope_every=3, moe=moe, n_dense_layers=1)
    model = Transformer(cfg).eval()
    lengths = [5, 9, 6]
    ids = torch.randint(0, cfg.vocab_size, (1, sum(lengths)))
    doc_ids = torch.repeat_interleave(torch.arange(3), torch.tensor(lengths))[None]
    packed, _ = model(ids, doc_ids=doc_ids)
    start = 0
    for n in lengths:
        alone, _ = model(ids[:, start : start + n])
        torch.testing.assert_close(packed[:, start : start + n], alone, atol=1e-4, rtol=1e-4)
        start += n
    unmasked, _ = model(ids)
    assert not torch.allclose(unmasked[:, 5:], packed[:, 5:], atol=1e-3)


def test_gqa_layer_equals_mha_with_repeated_kv_weights():
    torch.manual_seed(0)
    gqa_cfg = tiny(n_heads=4, n_kv_heads=2, window=3, window_pattern="S", n_layers=2)
    mha_cfg = tiny(n_heads=4, n_kv_heads=4, window=3, window_pattern="S", n_layers=2)
    gqa, mha = Attention(gqa_cfg, 0), Attention(mha_cfg, 0)
    hd = gqa_cfg.head_dim
    with torch.no_grad():
        mha.wq.weight.copy_(gqa.wq.weight)
        mha.wo.weight.copy_(gqa.wo.weight)
        for name in ("wk", "wv"):
            w = getattr(gqa, name).weight.view(2, hd, -1)  # (Hkv, D, dim)
            getattr(mha, name).weight.copy_(w.repeat_interleave(2, dim=0).reshape(4 * hd, -1))
    x = torch.randn(2, 10, gqa_cfg.dim)
    doc_ids = torch.tensor([[0] * 4 + [1] * 6, [0] * 10])
    rope = rope_table(32, hd, 10000.0)
    torch.testing.assert_close(gqa(x, rope, doc_ids), mha(x, rope, doc_ids), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("nope", [True, False])
def test_nope_layer_ignores_order_of_the_prefix(nope):
    """Without positions, causal attention at the last position is a function of the *set*
    of earlier tokens: permuting them leaves its output unchanged. With RoPE it changes."""
    torch.manual_seed(0)
    cfg = tiny(n_layers=1, nope_every=1 if nope else 0)
    layer = Attention(cfg, 0)
    assert layer.use_rope is not nope
    x = torch.randn(1, 8, cfg.dim)
    perm = torch.cat([torch.randperm(7), torch.tensor([7])])
    rope = rope_table(32, cfg.head_dim, cfg.rope_theta)
    last = layer(x, rope)[:, -1]
    last_permuted = layer(x[:, perm], rope)[:, -1]
    assert torch.allclose(last, last_permuted, atol=1e-5) is nope


def test_softcap_bounds_logits():
    torch.manual_seed(0)
    ids = torch.randint(0, 64, (2, 8))
    for cap in (0.0, 5.0):
        model = Transformer(tiny(logit_softcap=cap, tie_embeddings=False))
        with torch.no_grad():
            model.lm_head.weight.mul_(1000.0)
        logits, _ = model(ids)
        if cap:
            assert logits.abs().max() <= cap
            assert logits.abs().max() > 0.9 * cap  # saturated, not just small
        else:
            assert logits.abs().max() > 5.0


@pytest.mark.parametrize("moe", [None, TINY_MOE])
def test_loss_dict(moe):
    torch.manual_seed(0)
    cfg = tiny(moe=moe, z_loss_coef=1e-3)
    model = Transformer(cfg)
    ids = torch.randint(0, 64, (2, 8))
    labels = ids.roll(-1, dims=1)
    labels[:, -1] = IGNORE_INDEX
    logits, losses = model(ids, labels=labels)
    assert set(losses) == {"ce", "z_loss", "moe_aux", "loss"}
    ce = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 64), ids[:, 1:].reshape(-1))
    torch.testing.assert_close(losses["ce"], ce)
    z = torch.logsumexp(logits[:, :-1], -1).pow(2).mean()
    torch.testing.assert_close(losses["z_loss"], z)
    assert losses["z_loss"] > 0
    if moe is None:
        assert losses["moe_aux"].item() == 0.0
    else:  # 4 MoE layers, each ~aux_loss_coef * 1 near balance
        assert 0.5 * 4 * 0.01 < losses["moe_aux"].item() < 2 * 4 * 0.01
    total = losses["ce"] + 1e-3 * losses["z_loss"] + losses["moe_aux"]
    torch.testing.assert_close(losses["loss"], total)
    _, no_labels = model(ids)
    assert set(no_labels) == {"moe_aux"}


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"tie_embeddings": False, "qk_norm": False},
        {"moe": TINY_MOE, "n_dense_layers": 1},
        {"moe": MoEConfig(n_experts=6, top_k=1, expert_hidden=8, n_shared=0)},
    ],
)
def test_param_counts_match_the_model(kw):
    cfg = tiny(**kw)
    counts = param_counts(cfg)
    model = Transformer(cfg)
    assert counts["total"] == num_parameters(model)
    inactive = 0
    for moe in model.moe_layers():
        per_expert = sum(w[0].numel() for w in (moe.w1, moe.w2, moe.w3))
        inactive += (moe.cfg.n_experts - moe.cfg.top_k) * per_expert
    assert counts["active"] == counts["total"] - inactive
    gains = sum(p.numel() for p in model.parameters() if p.ndim < 2)
    head = 0 if cfg.tie_embeddings else cfg.vocab_size * cfg.dim
    assert counts["matmul_active"] == counts["active"] - gains - head


def test_flops_per_token_formula():
    cfg = tiny(n_layers=4, window=4, window_pattern="SF")
    n = param_counts(cfg)["matmul_active"]
    attn = 12 * cfg.n_heads * cfg.head_dim * (4 + 16 + 4 + 16)  # S F S F at seq_len 16
    assert flops_per_token(cfg, 16) == 6 * n + attn
    dense = tiny()
    # 6N + 12 L H D T for a dense model (PaLM appendix B)
    expected = 6 * param_counts(dense)["matmul_active"] + 12 * 4 * 4 * 8 * 16
    assert flops_per_token(dense, 16) == expected


def test_rope_scaling_applies_to_full_layers_only():
    scaling = RopeScaling(kind="theta", theta=500000.0)
    cfg = tiny(window=4, window_pattern="SF", rope_scaling=scaling)
    model = Transformer(cfg)
    base_cos, _ = rope_table(32, cfg.head_dim, cfg.rope_theta)
    raised_cos, _ = rope_table(32, cfg.head_dim, 500000.0)
    torch.testing.assert_close(model.rope_for(0)[0], base_cos)  # windowed layer
    torch.testing.assert_close(model.rope_for(1)[0], raised_cos)  # full layer
    assert not torch.allclose(base_cos, raised_cos)


def test_set_context_extends_full_layers_only():
    torch.manual_seed(0)
    cfg = tiny(window=4, window_pattern="SF", max_seq_len=16)
    model = Transformer(cfg)
    ids = torch.randint(0, 64, (1, 24))
    with pytest.raises(ValueError, match="max_seq_len"):
        model(ids)
    yarn = RopeScaling(kind="yarn", factor=2.0, original_seq_len=16)
    model.set_context(32, yarn)
    assert cfg.max_seq_len == 32 and cfg.rope_scaling is yarn
    assert model.rope_for(0)[0].shape == (32, cfg.head_dim // 2)
    torch.testing.assert_close(model.rope_for(0)[0], rope_table(32, cfg.head_dim, 1e4)[0])
    torch.testing.assert_close(model.rope_for(1)[0], rope_table(32, cfg.head_dim, 1e4, yarn)[0])
    assert model(ids)[0].shape == (1, 24, 64)
    assert "rope_cos_global" not in model.state_dict()


def test_yarn_frequencies():
    hd, theta = 64, 10000.0
    base, m1 = rope_frequencies(hd, theta)
    same, m_same = rope_frequencies(hd, theta, RopeScaling(factor=1.0, original_seq_len=256))
    torch.testing.assert_close(same, base)
    assert m1 == m_same == 1.0
    yarn, mscale = rope_frequencies(hd, theta, RopeScaling(factor=4.0, original_seq_len=256))
    turns = 256 * base / (2 * math.pi)  # rotations of each pair within the original context
    high, low = turns > 32, turns < 1
    assert high.any() and low.any()
    torch.testing.assert_close(yarn[high], base[high])
    torch.testing.assert_close(yarn[low], base[low] / 4)
    mid = ~high & ~low
    assert (yarn[mid] < base[mid]).all() and (yarn[mid] > base[mid] / 4).all()
    assert mscale == pytest.approx(0.1 * math.log(4) + 1)


@pytest.mark.parametrize(
    "moe,opt",
    [(None, "adamw"), (None, "muon"), (TINY_MOE, "adamw"), (TINY_MOE, "muon")],
)
def test_tiny_model_overfits_one_batch(moe, opt):
    torch.manual_seed(0)
    cfg = tiny(moe=moe, window=4, window_pattern="SF", nope_every=4, logit_softcap=30.0)
    model = Transformer(cfg)
    ids = torch.randint(0, cfg.vocab_size, (4, 16))
    labels = torch.randint(0, cfg.vocab_size, (4, 16))
    doc_ids = torch.tensor([[0] * 8 + [1] * 8] * 4)
    optimizer = build_optimizer(model, OptimConfig(name=opt, lr=1e-2, muon_lr=0.05))
    first = None
    for _ in range(30):
        _, losses = model(ids, doc_ids=doc_ids, labels=labels)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        clip_grad_norm(model.parameters(), 1.0)
        optimizer.step()
        model.update_moe_biases()
        first = losses["ce"].item() if first is None else first
    assert first == pytest.approx(math.log(cfg.vocab_size), rel=0.1)
    assert losses["ce"].item() < 0.5 * first


def test_qk_norm_keeps_the_input_dtype():
    """A bf16 q under autocast stays bf16 through the fp32-gain RMSNorm (torch alone would
    promote it to fp32 on its unfused path), with the fp32 result's values."""
    from train.model import rms_norm_like_input

    norm = torch.nn.RMSNorm(16, eps=1e-6)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    x = torch.randn(3, 16).bfloat16()
    out = rms_norm_like_input(norm, x)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), norm(x.float()), atol=2e-2, rtol=2e-2)
