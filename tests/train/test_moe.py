"""Mixture of experts: routed output against a per-token loop, load statistics, the
aux-loss-free balancing bias, the sequence-wise aux loss and the kernel hook."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import train
from train.moe import MoE, MoEConfig, moe_experts_torch

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/train/conftest.py


def _per_token_reference(moe: MoE, x: torch.Tensor) -> torch.Tensor:
    """Each token on its own, in plain Python: bias-adjusted top-k selection, unbiased
    weights, weighted sum of expert MLPs, plus the shared expert."""
    cfg = moe.cfg
    out = []
    for token in x:
        logits = moe.router.weight @ token
        scores = torch.sigmoid(logits) if cfg.score_func == "sigmoid" else logits.softmax(-1)
        biased = (scores + moe.expert_bias).tolist()
        chosen = sorted(range(cfg.n_experts), key=lambda e: -biased[e])[: cfg.top_k]
        weights = [scores[e] for e in chosen]
        if cfg.norm_topk:
            total = sum(weights)
            weights = [w / total for w in weights]
        y = torch.zeros_like(token)
        for e, w in zip(chosen, weights, strict=True):
            hidden = F.silu(moe.w1[e] @ token) * (moe.w3[e] @ token)
            y = y + cfg.route_scale * w * (moe.w2[e] @ hidden)
        if moe.shared is not None:
            y = y + moe.shared(token)
        out.append(y)
    return torch.stack(out)


@pytest.mark.parametrize(
    "cfg",
    [
        MoEConfig(n_experts=6, top_k=2, expert_hidden=8, n_shared=1),
        MoEConfig(n_experts=5, top_k=3, expert_hidden=8, n_shared=0, score_func="softmax"),
        MoEConfig(
            n_experts=4, top_k=1, expert_hidden=8, n_shared=2, norm_topk=False, route_scale=2.5
        ),
    ],
)
def test_moe_equals_per_token_loop(cfg):
    torch.manual_seed(0)
    moe = MoE(16, cfg)
    with torch.no_grad():
        moe.expert_bias.copy_(torch.randn(cfg.n_experts) * 0.3)  # bias must change selection
    x = torch.randn(2, 7, 16)
    y, aux = moe(x)
    with torch.no_grad():
        ref = _per_token_reference(moe, x.reshape(-1, 16)).reshape(2, 7, 16)
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)
    assert aux.item() == 0.0
    assert moe.last_load.sum().item() == 14 * cfg.top_k


def test_bias_changes_selection_not_weights():
    torch.manual_seed(0)
    moe = MoE(8, MoEConfig(n_experts=4, top_k=1, expert_hidden=4, n_shared=0, norm_topk=False))
    x = torch.randn(10, 8)
    scores, idx, w = moe.route(x)
    with torch.no_grad():
        moe.expert_bias[2] = 10.0
    scores2, idx2, w2 = moe.route(x)
    assert (idx2 == 2).all() and not (idx == 2).all()
    torch.testing.assert_close(w2[:, 0], scores[:, 2])


def test_experts_kernel_handles_empty_experts():
    torch.manual_seed(0)
    x = torch.randn(5, 4)
    idx = torch.tensor([[0], [0], [3], [0], [3]])
    w = torch.rand(5, 1)
    w1, w3, w2 = torch.randn(4, 6, 4), torch.randn(4, 6, 4), torch.randn(4, 4, 6)
    y = moe_experts_torch(x, idx, w, w1, w3, w2)
    for n in range(5):
        e = idx[n, 0]
        ref = w[n, 0] * (w2[e] @ (F.silu(w1[e] @ x[n]) * (w3[e] @ x[n])))
        torch.testing.assert_close(y[n], ref, atol=1e-5, rtol=1e-5)


def test_balancing_bias_moves_load_towards_uniform():
    torch.manual_seed(0)
    cfg = MoEConfig(n_experts=8, top_k=2, expert_hidden=8, n_shared=0, bias_update_rate=0.02)
    moe = MoE(16, cfg).train()
    direction = torch.randn(16)
    with torch.no_grad():  # skewed router: expert e's logit grows with e along one direction
        moe.router.weight.copy_(0.05 * torch.randn(8, 16))
        moe.router.weight += torch.linspace(-1, 1, 8)[:, None] * direction / direction.norm()
    x = torch.randn(4, 64, 16) + 2 * direction / direction.norm()

    def imbalance(load):
        return (load.max() / load.float().mean()).item()

    moe(x)
    first = moe.update_bias()
    assert first.sum().item() == 4 * 64 * 2
    assert moe.tokens_per_expert.sum().item() == 0  # reset by the update
    assert imbalance(first) > 3.0
    for _ in range(60):
        moe(x)
        load = moe.update_bias()
    assert imbalance(load) < 1.5
    assert moe.expert_bias[-1] < 0 < moe.expert_bias[0]  # the favoured expert pushed down
    # eval forwards do not count towards the balancing load
    moe.eval()
    moe(x)
    assert moe.tokens_per_expert.sum().item() == 0


def test_sequence_aux_loss():
    torch.manual_seed(0)
    cfg = MoEConfig(n_experts=4, top_k=2, expert_hidden=8, n_shared=0, aux_loss_coef=0.1)
    moe = MoE(16, cfg)
    x = torch.randn(3, 5, 16, requires_grad=True)
    _, aux = moe(x)
    scores, idx, _ = moe.route(x.reshape(-1, 16))
    expected = 0.0
    for b in range(3):
        s = scores.reshape(3, 5, 4)[b]
        p = (s / s.sum(-1, keepdim=True)).mean(0)
        counts = torch.bincount(idx.reshape(3, 5, 2)[b].reshape(-1), minlength=4)
        f = counts.float() * 4 / (2 * 5)
        expected += 0.1 * (f * p).sum() / 3
    torch.testing.assert_close(aux, expected)
    aux.backward()
    assert moe.router.weight.grad.abs().sum() > 0  # the loss trains the router


def test_moe_dispatch_hook(monkeypatch):
    monkeypatch.setattr(train, "_triton_loaded", False)  # keep the fake kernel registered
    torch.manual_seed(0)
    moe = MoE(8, MoEConfig(n_experts=4, top_k=2, expert_hidden=4))
    calls = []

    def fake(*args):
        calls.append(args[1].shape)
        return moe_experts_torch(*args)

    monkeypatch.setitem(train._KERNELS, ("moe_experts", "triton"), fake)
    monkeypatch.setenv("CURATE_KERNELS", "triton")
    y_fake, _ = moe(torch.ones(1, 3, 8))
    monkeypatch.setenv("CURATE_KERNELS", "torch")
    y_torch, _ = moe(torch.ones(1, 3, 8))
    assert calls == [torch.Size([3, 2])]
    torch.testing.assert_close(y_fake, y_torch)


def test_bias_stays_float32_when_the_module_is_cast():
    torch.manual_seed(0)
    moe = MoE(8, MoEConfig(n_experts=4, top_k=1, expert_hidden=4)).to(torch.bfloat16)
    assert moe.w1.dtype == torch.bfloat16
    assert moe.expert_bias.dtype == torch.float32
    assert "expert_bias" in moe.state_dict()
    moe.train()
    with torch.no_grad():
        moe.expert_bias.fill_(1.0)
        moe.router.weight.zero_()
        moe.router.weight[0, 0] = 1.0
    x = torch.zeros(1, 8, 8, dtype=torch.bfloat16)
    x[..., 0] = 1.0  # every token prefers expert 0
    moe(x)
    moe.update_bias(rate=1e-4)  # far below bf16's resolution at 1.0 (2**-7)
    expected = torch.tensor([1 - 1e-4, 1 + 1e-4, 1 + 1e-4, 1 + 1e-4])
    torch.testing.assert_close(moe.expert_bias, expected, atol=1e-7, rtol=0)
