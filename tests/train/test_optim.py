"""Optimisers: parameter groups, Newton-Schulz orthogonalisation, Muon and its AdamW part,
learning-rate scaling and gradient clipping."""

from __future__ import annotations

import importlib
import math

import pytest
import torch

from train.model import ModelConfig, Transformer
from train.moe import MoEConfig
from train.optim import (
    Muon,
    OptimConfig,
    build_optimizer,
    clip_grad_norm,
    newton_schulz,
    set_lr_scale,
    split_parameters,
)


def tiny_model(**kw) -> Transformer:
    torch.manual_seed(0)
    base = dict(vocab_size=32, dim=16, n_layers=2, n_heads=2, max_seq_len=16)
    return Transformer(ModelConfig(**{**base, **kw}))


def _ids(group):
    return {id(p) for p in group["params"]}


@pytest.mark.parametrize("shape", [(32, 64), (64, 32), (48, 48), (3, 16, 40)])
def test_newton_schulz_is_near_orthogonal(shape):
    """5 quintic steps: every singular value in [0.65, 1.2] (the documented ~[0.7, 1.2]),
    and the result points the way of the exact polar factor U V^T (cosine > 0.97)."""
    torch.manual_seed(0)
    g = torch.randn(*shape) * 37.0  # scale must not matter
    o = newton_schulz(g)
    assert o.shape == g.shape and o.dtype == g.dtype
    s = torch.linalg.svdvals(o)
    assert s.min() > 0.65 and s.max() < 1.2
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    polar = u @ vh
    cosine = (o * polar).sum() / (o.norm() * polar.norm())
    assert cosine > 0.97
    # without the iteration (0 steps) the singular values are far from 1
    assert torch.linalg.svdvals(newton_schulz(g, steps=0)).max() < 0.5


def test_split_parameters_tied_and_untied():
    tied = tiny_model()
    kinds = split_parameters(tied)
    assert [p is tied.tok_emb.weight for p in kinds["embedding"]] == [True]
    assert kinds["head"] == []
    assert all(p.ndim == 1 for p in kinds["gains"]) and kinds["gains"]
    assert all(p.ndim >= 2 for p in kinds["matrices"])
    total = sum(len(v) for v in kinds.values())
    assert total == len(list(tied.parameters()))

    untied = tiny_model(tie_embeddings=False, moe=MoEConfig(n_experts=2, top_k=1, expert_hidden=8))
    kinds = split_parameters(untied)
    assert [p is untied.lm_head.weight for p in kinds["head"]] == [True]
    assert any(p.ndim == 3 for p in kinds["matrices"])  # expert weights


def test_adamw_groups_and_weight_decay():
    model = tiny_model(tie_embeddings=False)
    opt = build_optimizer(model, OptimConfig(name="adamw", lr=1e-3, weight_decay=0.1))
    assert isinstance(opt, torch.optim.AdamW)
    groups = {g["name"]: g for g in opt.param_groups}
    assert set(groups) == {"embedding", "gains", "head", "matrices"}
    assert groups["embedding"]["weight_decay"] == 0.0
    assert groups["gains"]["weight_decay"] == 0.0
    assert groups["head"]["weight_decay"] == 0.1
    assert groups["matrices"]["weight_decay"] == 0.1
    assert all(g["betas"] == (0.9, 0.95) for g in opt.param_groups)
    assert model.tok_emb.weight in groups["embedding"]["params"]


def test_muon_groups():
    model = tiny_model(tie_embeddings=False)
    opt = build_optimizer(model, OptimConfig(name="muon", lr=1e-3, muon_lr=0.02))
    assert isinstance(opt, Muon)
    muon = [g for g in opt.param_groups if g["use_muon"]]
    assert [g["name"] for g in muon] == ["matrices"]
    assert muon[0]["lr"] == 0.02
    assert all(p.ndim >= 2 for p in muon[0]["params"])
    adam_ids = set().union(*(_ids(g) for g in opt.param_groups if not g["use_muon"]))
    assert id(model.tok_emb.weight) in adam_ids and id(model.lm_head.weight) in adam_ids
    assert not adam_ids & _ids(muon[0])


def test_muon_step_is_orthogonalised_gradient():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(24, 8))
    start = w.detach().clone()
    w.grad = torch.randn(24, 8)
    opt = Muon(
        [
            {
                "params": [w],
                "use_muon": True,
                "lr": 0.1,
                "momentum": 0.95,
                "nesterov": True,
                "ns_steps": 5,
                "weight_decay": 0.0,
            }
        ]
    )
    opt.step()
    # first step: the momentum buffer is a multiple of the gradient, and NS is scale-free
    expected = start - 0.1 * newton_schulz(w.grad) * math.sqrt(24 / 8)
    torch.testing.assert_close(w.detach(), expected, atol=1e-5, rtol=1e-5)


def test_muon_adamw_part_is_torch_foreach_adamw(monkeypatch):
    """Muon's AdamW groups are stepped by torch's foreach AdamW, one call per group: bitwise
    torch.optim.AdamW(foreach=True), with its state (so a checkpoint has its layout)."""
    adam_module = importlib.import_module("torch.optim.adam")  # torch.optim hides the name
    calls = []
    multi_tensor = adam_module._multi_tensor_adam
    monkeypatch.setattr(adam_module, "_multi_tensor_adam",
                        lambda params, *a, **kw: calls.append(len(params))
                        or multi_tensor(params, *a, **kw))
    torch.manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(*shape)) for shape in [(10,), (4, 6), (3,)]]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    adam = {"lr": 0.01, "betas": (0.9, 0.95), "eps": 1e-8}
    opt = Muon([{"params": ours[:2], "use_muon": False, "weight_decay": 0.1, **adam},
                {"params": ours[2:], "use_muon": False, "weight_decay": 0.0, **adam}])
    ref = torch.optim.AdamW([{"params": theirs[:2], "weight_decay": 0.1},
                             {"params": theirs[2:], "weight_decay": 0.0}], foreach=True, **adam)
    for step in range(5):
        gen = torch.Generator().manual_seed(step)
        for a, b in zip(ours, theirs, strict=True):
            a.grad = torch.randn(a.shape, generator=gen)
            b.grad = a.grad.clone()
        calls.clear()
        opt.step()
        assert calls == [2, 1]  # one foreach call per group
        ref.step()
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    got, want = opt.state_dict()["state"], ref.state_dict()["state"]
    assert set(got) == set(want)
    for i in want:
        assert set(got[i]) == set(want[i])
        assert all(torch.equal(got[i][k], want[i][k]) for k in want[i])


def test_muon_loads_an_integer_adamw_step():
    """A checkpoint from before the foreach AdamW (``step`` an int) resumes where it left off."""
    p = torch.nn.Parameter(torch.ones(3))
    adam = {"params": [p], "use_muon": False, "lr": 0.01, "betas": (0.9, 0.95), "eps": 1e-8,
            "weight_decay": 0.0}
    opt = Muon([adam])
    p.grad = torch.ones(3)
    opt.step()
    old = opt.state_dict()
    old["state"][0]["step"] = 1
    fresh = Muon([adam])
    fresh.load_state_dict(old)
    fresh.step()
    assert fresh.state[p]["step"].item() == 2.0


def test_set_lr_scale():
    model = tiny_model()
    opt = build_optimizer(model, OptimConfig(name="muon", lr=1e-3, embed_lr=5e-3, muon_lr=0.02))
    set_lr_scale(opt, 0.5)
    lrs = {g["name"]: g["lr"] for g in opt.param_groups}
    assert lrs == {"embedding": 2.5e-3, "gains": 5e-4, "matrices": 0.01}


def test_clip_grad_norm():
    p1, p2 = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2))
    p1.grad, p2.grad = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 4.0])
    assert clip_grad_norm([p1, p2], 0.0).item() == pytest.approx(5.0)  # measure only
    assert p1.grad[0].item() == 3.0
    assert clip_grad_norm([p1, p2], 1.0).item() == pytest.approx(5.0)
    total = torch.cat([p1.grad, p2.grad]).norm().item()
    assert total == pytest.approx(1.0, rel=1e-5)
