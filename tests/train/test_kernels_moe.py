"""Triton grouped-GEMM MoE experts (train.kernels.moe) vs the torch reference: outputs and the
gradients of x, routing weights and the three expert weights in fp32, over skewed and empty
experts, top-k = 1 and = E, odd sizes and block shapes; and, on a GPU only, bf16 at a
realistic shape. Compiled kernels on ``cuda`` when a GPU is present, Triton's CPU interpreter
otherwise (see kernel_device.py).

Tolerances. fp32 (weights scaled by 1/sqrt(fan-in) so values are of order 1; IEEE products
on GPU, no TF32): ``atol=2e-5, rtol=1e-4``; the observed differences on CPU are about 1e-6.
bf16 (GPU): `kernel_device.assert_close_bf16`, ``|a - e| <= 0.01 max|e| + 0.01 |e|`` against
the fp32 reference on the same bf16-rounded inputs.
"""

from __future__ import annotations

import pytest
import torch
from kernel_device import (  # first: sets TRITON_INTERPRET=1 when there is no GPU
    DEVICE,
    assert_close_bf16,
    exact_fp32,
    requires_compiled,
)

from train.kernels.moe import moe_experts_grouped, moe_experts_triton, route_tables
from train.moe import moe_experts_torch

pytestmark = pytest.mark.triton

TOL = dict(atol=2e-5, rtol=1e-4)


@pytest.fixture(autouse=True)
def _ieee_fp32():
    with exact_fp32():
        yield


def _inputs(n: int, d: int, h: int, n_exp: int, k: int, seed: int = 0):
    """x (n, d), expert_idx (n, k) distinct experts, weight (n, k) in [0, 1), w1 and w3
    (n_exp, h, d), w2 (n_exp, d, h): fp32 on DEVICE, drawn on the CPU."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    expert_idx = torch.rand(n, n_exp, generator=g).argsort(-1)[:, :k]
    weight = torch.rand(n, k, generator=g)
    w1 = torch.randn(n_exp, h, d, generator=g) / d**0.5
    w3 = torch.randn(n_exp, h, d, generator=g) / d**0.5
    w2 = torch.randn(n_exp, d, h, generator=g) / h**0.5
    return tuple(t.to(DEVICE) for t in (x, expert_idx, weight, w1, w3, w2))


def _compare(x, expert_idx, weight, w1, w3, w2, blocks=(16, 16, 16)):
    """Forward and backward of both paths; returns the Triton path's gradients."""
    ours = [t.clone().requires_grad_(True) for t in (x, weight, w1, w3, w2)]
    refs = [t.clone().requires_grad_(True) for t in (x, weight, w1, w3, w2)]
    y = moe_experts_grouped(ours[0], expert_idx, *ours[1:], blocks=blocks)
    y_ref = moe_experts_torch(refs[0], expert_idx, *refs[1:])
    torch.testing.assert_close(y, y_ref, **TOL)
    dy = torch.randn(y.shape, generator=torch.Generator().manual_seed(1)).to(DEVICE)
    y.backward(dy)
    y_ref.backward(dy)
    for name, a, b in zip(("x", "weight", "w1", "w3", "w2"), ours, refs, strict=True):
        torch.testing.assert_close(a.grad, b.grad, **TOL, msg=lambda m, n=name: f"d{n}: {m}")
    return [t.grad for t in ours]


def test_random_routing_odd_sizes():
    _compare(*_inputs(n=37, d=23, h=19, n_exp=4, k=2))


def test_one_expert_takes_all_tokens_top1():
    x, _, weight, w1, w3, w2 = _inputs(n=35, d=16, h=24, n_exp=4, k=1)
    grads = _compare(x, torch.full((35, 1), 2, device=DEVICE), weight, w1, w3, w2)
    for dw in grads[2:]:  # experts 0, 1 and 3 saw no token: exactly zero gradients
        assert dw[[0, 1, 3]].abs().max() == 0
        assert dw[2].abs().max() > 0


def test_expert_without_tokens_top2():
    x, _, weight, w1, w3, w2 = _inputs(n=21, d=17, h=18, n_exp=5, k=2)
    chosen = torch.rand(21, 4, generator=torch.Generator().manual_seed(5)).argsort(-1)[:, :2]
    # two distinct experts, never expert 3
    expert_idx = torch.tensor([0, 1, 2, 4])[chosen].to(DEVICE)
    grads = _compare(x, expert_idx, weight, w1, w3, w2)
    assert all(dw[3].abs().max() == 0 for dw in grads[2:])


def test_top_k_equals_n_experts_larger_blocks():
    _compare(*_inputs(n=19, d=40, h=33, n_exp=3, k=3), blocks=(16, 32, 16))


def test_single_token_and_registered_signature():
    x, expert_idx, weight, w1, w3, w2 = _inputs(n=1, d=8, h=12, n_exp=4, k=2)
    _compare(x, expert_idx, weight, w1, w3, w2)
    torch.testing.assert_close(
        moe_experts_triton(x, expert_idx, weight, w1, w3, w2),
        moe_experts_torch(x, expert_idx, weight, w1, w3, w2), **TOL,
    )


def test_route_tables():
    expert_idx = torch.tensor([[2, 0], [2, 1], [0, 2]], device=DEVICE)  # 3 tokens, top-2, E=4
    order, inv, offsets, tile_expert, tile_start = route_tables(expert_idx, 4, block_m=2)
    # pairs (flat n*k+j) by expert: e0 {1, 4}, e1 {3}, e2 {0, 2, 5}, e3 {}
    assert order.tolist() == [1, 4, 3, 0, 2, 5]
    assert inv[order.long()].tolist() == list(range(6))
    assert offsets.tolist() == [0, 2, 3, 6, 6]
    # tiles of 2 rows: e0 1 tile, e1 1, e2 2, e3 0; grid bound ceil(6/2) + 4 = 7
    assert tile_expert.tolist() == [0, 1, 2, 2, 4, 4, 4]
    assert tile_start.tolist() == [0, 1, 2, 4]


def test_rejects_bad_arguments():
    x, expert_idx, weight, w1, w3, w2 = _inputs(n=4, d=8, h=12, n_exp=4, k=2)
    with pytest.raises(ValueError, match="block"):
        moe_experts_grouped(x, expert_idx, weight, w1, w3, w2, blocks=(16, 24, 16))
    with pytest.raises(ValueError, match="w2"):
        moe_experts_grouped(x, expert_idx, weight, w1, w3, w2.transpose(1, 2))
    with pytest.raises(ValueError, match="expert_idx"):
        moe_experts_grouped(x, expert_idx[:, :1], weight, w1, w3, w2)


def test_autocast_casts_fp32_operands_to_the_autocast_dtype():
    """Under bf16 autocast fp32 tokens and expert weights enter the grouped GEMMs in bf16, as
    the torch reference's matmuls would; the weights' gradients come back in fp32."""
    x, expert_idx, weight, w1, w3, w2 = _inputs(n=4, d=8, h=12, n_exp=4, k=2)
    w1.requires_grad_(True)
    with torch.autocast(DEVICE.type, dtype=torch.bfloat16):
        y = moe_experts_triton(x, expert_idx, weight, w1, w3, w2)
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    assert w1.grad.dtype == torch.float32


@requires_compiled
def test_bf16_realistic_shape_top2_of_8():
    """bf16 as the trainer runs it (x, routing weights and expert weights all bf16, default
    blocks): 512 tokens, d=256, hidden=128, E=8, top-2; output and all five gradients within
    `assert_close_bf16` of the fp32 reference."""
    bf16 = torch.bfloat16
    x, expert_idx, weight, w1, w3, w2 = _inputs(n=512, d=256, h=128, n_exp=8, k=2, seed=7)
    dy = torch.randn(512, 256, generator=torch.Generator().manual_seed(8)).to(DEVICE, bf16)
    ours = [t.to(bf16).requires_grad_(True) for t in (x, weight, w1, w3, w2)]
    refs = [t.detach().float().requires_grad_(True) for t in ours]
    y = moe_experts_triton(ours[0], expert_idx, *ours[1:])
    y_ref = moe_experts_torch(refs[0], expert_idx, *refs[1:])
    y.backward(dy)
    y_ref.backward(dy.float())
    assert y.dtype == bf16
    assert_close_bf16(y, y_ref, "y")
    for name, a, b in zip(("x", "weight", "w1", "w3", "w2"), ours, refs, strict=True):
        assert a.grad.dtype == bf16
        assert_close_bf16(a.grad, b.grad, f"d{name}")
