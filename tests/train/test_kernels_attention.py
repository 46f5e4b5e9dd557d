"""Triton flash attention (train.kernels.attention) vs the torch reference, on the CPU
interpreter: outputs and q/k/v gradients in fp32 over documents, windows, GQA, ragged
lengths and block sizes; plus a tiny Transformer trained a few steps on both backends.

Tolerances (fp32, values and gradients of order 1): ``atol=2e-5, rtol=1e-4``; the observed
differences are about 1e-6 (summation order only).
"""

from __future__ import annotations

import os

os.environ["TRITON_INTERPRET"] = "1"  # must precede the first import of train.kernels

import pytest  # noqa: E402
import torch  # noqa: E402

from train.attention import attention_torch  # noqa: E402
from train.kernels.attention import _attn_fwd_kernel, doc_bounds, flash_attention  # noqa: E402

pytestmark = pytest.mark.triton

TOL = dict(atol=2e-5, rtol=1e-4)


def test_kernels_run_in_the_interpreter():
    """If train.kernels was imported before TRITON_INTERPRET was set, every launch would fail
    with "0 active drivers": say so plainly."""
    from triton.runtime.interpreter import InterpretedFunction

    assert isinstance(_attn_fwd_kernel, InterpretedFunction), (
        "train.kernels was imported before TRITON_INTERPRET=1 was set"
    )


def _docs(lengths: list[int]) -> torch.Tensor:
    """One row of doc ids from document lengths."""
    return torch.cat([torch.full((n,), i) for i, n in enumerate(lengths)])


def _compare(q, k, v, doc_ids, window, causal, block_m=16, block_n=16, scale=None):
    """Forward and backward of both paths on the same inputs and output gradient."""
    leaves = [t.detach().clone().requires_grad_(True) for t in (q, k, v)]
    refs = [t.detach().clone().requires_grad_(True) for t in (q, k, v)]
    out = flash_attention(*leaves, doc_ids=doc_ids, window=window, causal=causal, scale=scale,
                          block_m=block_m, block_n=block_n)
    ref = attention_torch(*refs, doc_ids=doc_ids, window=window, causal=causal, scale=scale)
    torch.testing.assert_close(out, ref, **TOL)
    dout = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
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
    q = torch.randn(b, h, t, d, generator=g)
    k = torch.randn(b, hkv, t, d, generator=g)
    v = torch.randn(b, hkv, t, d, generator=g)
    doc_ids = None if lengths is None else torch.stack([_docs(row) for row in lengths])
    _compare(q, k, v, doc_ids, window, causal, bm, bn)


def test_window_longer_than_sequence_is_full_causal_attention():
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(1, 2, 19, 8, generator=g) for _ in range(3))
    windowed = flash_attention(q, k, v, window=19, block_m=16, block_n=16)
    full = flash_attention(q, k, v, block_m=16, block_n=16)
    torch.testing.assert_close(windowed, full, atol=0, rtol=0)
    narrow = flash_attention(q, k, v, window=18, block_m=16, block_n=16)
    assert (narrow[:, :, -1] - full[:, :, -1]).abs().max() > 1e-4  # the last row lost key 0


def test_strided_inputs_and_explicit_scale():
    """q/k/v as transposed (B, T, H, D) views, as the model passes them; the output keeps
    q's strides."""
    g = torch.Generator().manual_seed(3)
    q = torch.randn(1, 21, 4, 8, generator=g).transpose(1, 2)
    k = torch.randn(1, 21, 2, 8, generator=g).transpose(1, 2)
    v = torch.randn(1, 21, 2, 8, generator=g).transpose(1, 2)
    out = flash_attention(q, k, v, doc_ids=_docs([9, 12])[None], scale=0.5,
                          block_m=16, block_n=16)
    assert out.stride() == q.stride()
    _compare(q, k, v, _docs([9, 12])[None], None, True, scale=0.5)


def test_doc_bounds():
    start, end = doc_bounds(torch.tensor([[0, 1, 1, 1, 2, 3, 3], [5, 5, 5, 5, 5, 5, 5]]))
    assert start.tolist() == [[0, 1, 1, 1, 4, 5, 5], [0] * 7]
    assert end.tolist() == [[1, 4, 4, 4, 5, 7, 7], [7] * 7]
    assert start.dtype == end.dtype == torch.int32


def test_recurring_doc_id_is_a_new_document():
    """The kernel's convention: documents are contiguous runs, so an id that comes back after
    another document starts a new document (train.data never writes such rows)."""
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(1, 2, 6, 8, generator=g) for _ in range(3))
    recurring = torch.tensor([[0, 0, 1, 1, 0, 0]])
    runs = torch.tensor([[0, 0, 1, 1, 2, 2]])
    out = flash_attention(q, k, v, doc_ids=recurring, block_m=16, block_n=16)
    torch.testing.assert_close(out, attention_torch(q, k, v, doc_ids=runs), **TOL)


def test_rejects_bad_arguments():
    q = torch.randn(1, 3, 8, 8)
    kv = torch.randn(1, 2, 8, 8)
    with pytest.raises(ValueError, match="multiple"):
        flash_attention(q, kv, kv)
    q = torch.randn(1, 2, 8, 8)
    with pytest.raises(ValueError, match="window"):
        flash_attention(q, kv, kv, window=0)
    with pytest.raises(ValueError, match="block_m"):
        flash_attention(q, kv, kv, block_m=8)
    with pytest.raises(ValueError, match="block_n"):
        flash_attention(q, kv, kv, block_n=48)


def test_tiny_transformer_trains_alike_on_triton_and_torch(monkeypatch):
    """Two SGD steps of a tiny MoE transformer with documents, sliding windows and GQA:
    the Triton path (CURATE_KERNELS=triton, both kernels) gives the torch path's losses."""
    from train.model import ModelConfig, Transformer
    from train.moe import MoEConfig

    cfg = ModelConfig(
        vocab_size=64, dim=16, n_layers=2, n_heads=2, n_kv_heads=1, max_seq_len=24,
        window=5, window_pattern="SF", ffn_hidden=24, z_loss_coef=1e-3,
        moe=MoEConfig(n_experts=4, top_k=2, expert_hidden=16, n_shared=1), n_dense_layers=1,
    )
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 64, (2, 19), generator=g)
    labels = torch.randint(0, 64, (2, 19), generator=g)
    doc_ids = torch.stack([_docs([7, 1, 11]), _docs([19])])

    def run(backend: str) -> list[float]:
        monkeypatch.setenv("CURATE_KERNELS", backend)
        torch.manual_seed(0)
        model = Transformer(cfg)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        losses = []
        for _ in range(2):
            _, out = model(ids, doc_ids=doc_ids, labels=labels)
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
            losses.append(out["loss"].item())
        return losses

    import train as train_pkg

    with monkeypatch.context() as m:
        m.setenv("CURATE_KERNELS", "triton")
        assert train_pkg.get_kernel("attention", "cpu").__module__ == "train.kernels.attention"
        assert train_pkg.get_kernel("moe_experts", "cpu").__module__ == "train.kernels.moe"
    triton_losses = run("triton")
    torch_losses = run("torch")
    assert torch_losses[-1] < torch_losses[0]  # the steps do train
    assert triton_losses == pytest.approx(torch_losses, rel=1e-5, abs=1e-5)
