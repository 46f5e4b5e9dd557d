"""Triton flash attention (train.kernels.attention) vs the torch reference: outputs and q/k/v
gradients in fp32 over documents, windows, GQA, ragged lengths and block sizes; a tiny
Transformer trained a few steps on both backends; and, on a GPU only, bf16 at a realistic
shape. Compiled kernels on ``cuda`` when a GPU is present, Triton's CPU interpreter otherwise
(see kernel_device.py).

Tolerances. fp32 (values and gradients of order 1; IEEE products on GPU, no TF32):
``atol=2e-5, rtol=1e-4``; the observed differences on CPU are about 1e-6 (summation order
only). bf16 (GPU): `kernel_device.assert_close_bf16`, ``|a - e| <= 0.01 max|e| + 0.01 |e|``
against the fp32 reference on the same bf16-rounded inputs.
"""

from __future__ import annotations

import pytest
import torch
from kernel_device import (  # first: sets TRITON_INTERPRET=1 when there is no GPU
    COMPILED,
    DEVICE,
    INTERPRETED,
    assert_close_bf16,
    exact_fp32,
    requires_compiled,
)

from train.attention import attention_torch
from train.kernels.attention import (
    Tile,
    Tiles,
    _attn_fwd_kernel,
    default_tiles,
    doc_bounds,
    flash_attention,
)

pytestmark = pytest.mark.triton

TOL = dict(atol=2e-5, rtol=1e-4)


@pytest.fixture(autouse=True)
def _ieee_fp32():
    with exact_fp32():
        yield


def test_kernels_compiled_on_gpu_interpreted_on_cpu():
    """Interpreted exactly when expected: had train.kernels been imported before
    TRITON_INTERPRET=1 was set, every CPU launch would fail with "0 active drivers"."""
    from triton.runtime.interpreter import InterpretedFunction

    assert isinstance(_attn_fwd_kernel, InterpretedFunction) == INTERPRETED, (
        "train.kernels was imported before kernel_device set TRITON_INTERPRET"
    )


def _randn(*shape: int, generator: torch.Generator) -> torch.Tensor:
    """Standard normal fp32 on DEVICE, drawn on the CPU (the same values on every device)."""
    return torch.randn(shape, generator=generator).to(DEVICE)


def _docs(lengths: list[int]) -> torch.Tensor:
    """One row of doc ids from document lengths, on DEVICE."""
    return torch.cat([torch.full((n,), i) for i, n in enumerate(lengths)]).to(DEVICE)


def _compare(q, k, v, doc_ids, window, causal, block_m=16, block_n=16, scale=None):
    """Forward and backward of both paths on the same inputs and output gradient."""
    leaves = [t.detach().clone().requires_grad_(True) for t in (q, k, v)]
    refs = [t.detach().clone().requires_grad_(True) for t in (q, k, v)]
    out = flash_attention(*leaves, doc_ids=doc_ids, window=window, causal=causal, scale=scale,
                          block_m=block_m, block_n=block_n)
    ref = attention_torch(*refs, doc_ids=doc_ids, window=window, causal=causal, scale=scale)
    torch.testing.assert_close(out, ref, **TOL)
    dout = _randn(*out.shape, generator=torch.Generator().manual_seed(1))
    out.backward(dout)
    ref.backward(dout)
    for name, a, b in zip("qkv", leaves, refs, strict=True):
        torch.testing.assert_close(a.grad, b.grad, **TOL, msg=lambda m, n=name: f"d{n}: {m}")


CASES = {
    # name: (B, H, Hkv, T, D, doc lengths per row or None, window, causal, block_m, block_n)
    "plain-ragged-T": (1, 2, 2, 37, 8, None, None, True, 16, 16),
    "docs-len1-span-boundary-gqa2": (1, 2, 1, 37, 12, [[1, 20, 1, 3, 12]], None, True, 16, 16),
    "docs-window1-gqa4": (1, 4, 1, 21, 8, [[5, 1, 15]], 1, True, 16, 16),
    "docs-window5-gqa2-two-rows": (2, 2, 1, 29, 8, [[10, 19], [1, 1, 27]], 5, True, 16, 16),
    "window-longer-than-seq": (1, 2, 1, 23, 8, None, 100, True, 16, 16),
    "window20-crosses-blocks-blocks-16x32": (1, 2, 2, 45, 8, [[40, 5]], 20, True, 16, 32),
    # window 2: the last visible query / key of a block's window is the next block's first
    "window2-edge-on-block-start": (1, 2, 1, 37, 8, None, 2, True, 16, 16),
    "noncausal-docs-window2": (1, 2, 1, 37, 8, [[17, 1, 19]], 2, False, 16, 16),
    "noncausal-plain-blocks-32x16": (1, 2, 2, 37, 6, None, None, False, 32, 16),
    "block-multiple-T-odd-head-dim": (1, 2, 2, 32, 7, [[16, 16]], None, True, 16, 16),
    "single-token": (1, 2, 1, 1, 8, [[1]], 4, True, 16, 16),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_flash_attention_matches_reference(case):
    b, h, hkv, t, d, lengths, window, causal, bm, bn = CASES[case]
    g = torch.Generator().manual_seed(0)
    q = _randn(b, h, t, d, generator=g)
    k = _randn(b, hkv, t, d, generator=g)
    v = _randn(b, hkv, t, d, generator=g)
    doc_ids = None if lengths is None else torch.stack([_docs(row) for row in lengths])
    _compare(q, k, v, doc_ids, window, causal, bm, bn)


def test_window_longer_than_sequence_is_full_causal_attention():
    """Bitwise equal in the interpreter; compiled, the windowed variant is another binary, so
    within TOL."""
    g = torch.Generator().manual_seed(2)
    q, k, v = (_randn(1, 2, 19, 8, generator=g) for _ in range(3))
    windowed = flash_attention(q, k, v, window=19, block_m=16, block_n=16)
    full = flash_attention(q, k, v, block_m=16, block_n=16)
    torch.testing.assert_close(windowed, full, **(TOL if COMPILED else dict(atol=0, rtol=0)))
    narrow = flash_attention(q, k, v, window=18, block_m=16, block_n=16)
    assert (narrow[:, :, -1] - full[:, :, -1]).abs().max() > 1e-4  # the last row lost key 0


def test_strided_inputs_and_explicit_scale():
    """q/k/v as transposed (B, T, H, D) views, as the model passes them; the output keeps
    q's strides."""
    g = torch.Generator().manual_seed(3)
    q = _randn(1, 21, 4, 8, generator=g).transpose(1, 2)
    k = _randn(1, 21, 2, 8, generator=g).transpose(1, 2)
    v = _randn(1, 21, 2, 8, generator=g).transpose(1, 2)
    out = flash_attention(q, k, v, doc_ids=_docs([9, 12])[None], scale=0.5,
                          block_m=16, block_n=16)
    assert out.stride() == q.stride()
    _compare(q, k, v, _docs([9, 12])[None], None, True, scale=0.5)


def test_doc_bounds():
    start, end = doc_bounds(
        torch.tensor([[0, 1, 1, 1, 2, 3, 3], [5, 5, 5, 5, 5, 5, 5]], device=DEVICE))
    assert start.tolist() == [[0, 1, 1, 1, 4, 5, 5], [0] * 7]
    assert end.tolist() == [[1, 4, 4, 4, 5, 7, 7], [7] * 7]
    assert start.dtype == end.dtype == torch.int32


def test_recurring_doc_id_is_a_new_document():
    """The kernel's convention: documents are contiguous runs, so an id that comes back after
    another document starts a new document (train.data never writes such rows)."""
    g = torch.Generator().manual_seed(4)
    q, k, v = (_randn(1, 2, 6, 8, generator=g) for _ in range(3))
    recurring = torch.tensor([[0, 0, 1, 1, 0, 0]], device=DEVICE)
    runs = torch.tensor([[0, 0, 1, 1, 2, 2]], device=DEVICE)
    out = flash_attention(q, k, v, doc_ids=recurring, block_m=16, block_n=16)
    torch.testing.assert_close(out, attention_torch(q, k, v, doc_ids=runs), **TOL)


def test_rejects_bad_arguments():
    q = torch.randn(1, 3, 8, 8, device=DEVICE)
    kv = torch.randn(1, 2, 8, 8, device=DEVICE)
    with pytest.raises(ValueError, match="multiple"):
        flash_attention(q, kv, kv)
    q = torch.randn(1, 2, 8, 8, device=DEVICE)
    with pytest.raises(ValueError, match="window"):
        flash_attention(q, kv, kv, window=0)
    with pytest.raises(ValueError, match="block_m"):
        flash_attention(q, kv, kv, block_m=8)
    with pytest.raises(ValueError, match="block_n"):
        flash_attention(q, kv, kv, block_n=48)


def test_default_tiles_by_head_dim():
    assert default_tiles(16) == default_tiles(64) != default_tiles(128)
    assert default_tiles(96) == default_tiles(128)
    with pytest.raises(ValueError, match="head dim 256"):
        default_tiles(256)
    assert Tiles.uniform(16, 32).dkdv == Tile(16, 32)


def test_autocast_casts_mixed_operands_like_torch_matmuls():
    """Under autocast an fp32 q/k (an RMSNorm output) meets a bf16 v as SDPA would see them:
    all cast to bf16, gradients back in the leaves' fp32. Without autocast mixed dtypes are
    refused. (Values are compared on GPU only: the interpreter computes bf16 wrongly.)"""
    g = torch.Generator().manual_seed(0)
    q = _randn(1, 2, 20, 16, generator=g).requires_grad_(True)
    k = _randn(1, 1, 20, 16, generator=g).requires_grad_(True)
    v = _randn(1, 1, 20, 16, generator=g)
    with torch.autocast(DEVICE.type, dtype=torch.bfloat16):
        out = flash_attention(q, k, v.bfloat16(), block_m=16, block_n=16)
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert q.grad.dtype == k.grad.dtype == torch.float32
    if COMPILED:
        assert_close_bf16(out, attention_torch(q, k, v.bfloat16().float()), "out")
    with pytest.raises(TypeError, match="mixed dtypes"):
        flash_attention(q, k, v.bfloat16())


def test_tiny_transformer_trains_alike_on_triton_and_torch(monkeypatch):
    """Two SGD steps of a tiny MoE transformer with documents, sliding windows and GQA:
    the Triton path (CURATE_KERNELS=triton: attention, MoE experts and the fused losses) gives
    the torch path's losses."""
    from train.model import ModelConfig, Transformer
    from train.moe import MoEConfig

    cfg = ModelConfig(
        vocab_size=64, dim=16, n_layers=2, n_heads=2, n_kv_heads=1, max_seq_len=24,
        window=5, window_pattern="SF", ffn_hidden=24, z_loss_coef=1e-3,
        moe=MoEConfig(n_experts=4, top_k=2, expert_hidden=16, n_shared=1), n_dense_layers=1,
    )
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 64, (2, 19), generator=g).to(DEVICE)
    labels = torch.randint(0, 64, (2, 19), generator=g).to(DEVICE)
    doc_ids = torch.stack([_docs([7, 1, 11]), _docs([19])])

    def run(backend: str, autocast: bool = False) -> list[float]:
        monkeypatch.setenv("CURATE_KERNELS", backend)
        torch.manual_seed(0)
        model = Transformer(cfg).to(DEVICE)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        losses = []
        for _ in range(2):
            with torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=autocast):
                _, out = model(ids, doc_ids=doc_ids, labels=labels, return_logits=False)
            opt.zero_grad()
            out["loss"].backward()
            assert all(p.grad.dtype == torch.float32 for p in model.parameters()
                       if p.grad is not None)
            opt.step()
            losses.append(out["loss"].item())
        return losses

    import train as train_pkg

    with monkeypatch.context() as m:
        m.setenv("CURATE_KERNELS", "triton")
        assert train_pkg.get_kernel("attention", DEVICE.type).__module__ == \
            "train.kernels.attention"
        assert train_pkg.get_kernel("moe_experts", DEVICE.type).__module__ == "train.kernels.moe"
        assert train_pkg.get_kernel("lm_losses", DEVICE.type).__module__ == \
            "train.kernels.cross_entropy"
    triton_losses = run("triton")
    torch_losses = run("torch")
    assert torch_losses[-1] < torch_losses[0]  # the steps do train
    assert triton_losses == pytest.approx(torch_losses, rel=1e-5, abs=1e-5)
    # the trainer's CUDA mode: bf16 autocast hands every kernel mixed dtypes (fp32 RMSNorm
    # outputs and parameters, bf16 projections): it must run, with fp32 parameter gradients.
    # Values are compared on a GPU only (the interpreter's bf16 dot products are garbage).
    mixed = run("triton", autocast=True)
    if COMPILED:
        assert mixed == pytest.approx(run("torch", autocast=True), rel=0.02)


@requires_compiled
def test_bf16_realistic_shape_docs_window_gqa4():
    """bf16 as the trainer runs it (B=2, H=8, Hkv=2: GQA 4, T=1024, D=128, default 64 x 64
    blocks), one row of four documents (one of length 1) and one whole row, window 256:
    output and q/k/v gradients within `assert_close_bf16` of the fp32 reference."""
    bf16 = torch.bfloat16
    g = torch.Generator().manual_seed(5)
    b, h, hkv, t, d, window = 2, 8, 2, 1024, 128, 256
    q = _randn(b, h, t, d, generator=g).to(bf16)
    k = _randn(b, hkv, t, d, generator=g).to(bf16)
    v = _randn(b, hkv, t, d, generator=g).to(bf16)
    dout = _randn(b, h, t, d, generator=g).to(bf16)
    doc_ids = torch.stack([_docs([300, 1, 500, 223]), _docs([t])])
    leaves = [x.clone().requires_grad_(True) for x in (q, k, v)]
    refs = [x.float().requires_grad_(True) for x in (q, k, v)]
    out = flash_attention(*leaves, doc_ids=doc_ids, window=window)
    ref = attention_torch(*refs, doc_ids=doc_ids, window=window)
    out.backward(dout)
    ref.backward(dout.float())
    assert out.dtype == bf16
    assert_close_bf16(out, ref, "out")
    for name, a, r in zip("qkv", leaves, refs, strict=True):
        assert a.grad.dtype == bf16
        assert_close_bf16(a.grad, r.grad, f"d{name}")


def test_fp32_products_follow_torch_matmul_precision():
    """fp32 kernel products are IEEE unless torch's own fp32 matmuls are set to TF32; 16-bit
    operands are unaffected (`train.kernels.precision`)."""
    from train.kernels.precision import ieee_dots

    matmul = torch.backends.cuda.matmul
    before = matmul.fp32_precision
    try:
        for setting, expected in (("none", True), ("ieee", True), ("tf32", False)):
            matmul.fp32_precision = setting
            assert ieee_dots(torch.float32) is expected, setting
            assert ieee_dots(torch.bfloat16) is False
    finally:
        matmul.fp32_precision = before


@requires_compiled
def test_tf32_opt_in_reaches_the_kernels():
    """With torch's fp32 matmuls set to TF32 the kernels use TF32 too (about 1e-3 off the
    IEEE result at D=64), and by default they do not (the fp32 tests above hold to 2e-5)."""
    if torch.version.hip is not None or torch.cuda.get_device_capability() < (8, 0):
        pytest.skip("TF32 needs an NVIDIA GPU of compute capability 8.0 or later")
    g = torch.Generator().manual_seed(6)
    q, k, v = (_randn(1, 2, 128, 64, generator=g) for _ in range(3))
    ieee = flash_attention(q, k, v)
    torch.testing.assert_close(ieee, attention_torch(q, k, v), **TOL)
    matmul = torch.backends.cuda.matmul
    before = matmul.fp32_precision
    try:
        matmul.fp32_precision = "tf32"
        tf32 = flash_attention(q, k, v)
    finally:
        matmul.fp32_precision = before
    assert (tf32 - ieee).abs().max() > 1e-4
