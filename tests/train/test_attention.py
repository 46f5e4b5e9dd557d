"""Attention: document masking, sliding windows, GQA and the kernel dispatch hook."""

from __future__ import annotations

import math

import pytest
import torch

import train
from train.attention import attention, attention_mask, attention_torch


def _qkv(b=2, h=4, hkv=4, t=12, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(b, h, t, d, generator=g)
    k = torch.randn(b, hkv, t, d, generator=g)
    v = torch.randn(b, hkv, t, d, generator=g)
    return q, k, v


def _brute_force(q, k, v, doc_ids, window, causal=True):
    """Softmax attention with a mask built position by position in Python."""
    b, h, t, d = q.shape
    allowed = torch.zeros(b, t, t, dtype=torch.bool)
    for bi in range(b):
        for i in range(t):
            for j in range(t):
                ok = (j <= i) if causal else True
                if window is not None:
                    ok = ok and abs(i - j) <= window - 1
                if doc_ids is not None:
                    ok = ok and bool(doc_ids[bi, i] == doc_ids[bi, j])
                allowed[bi, i, j] = ok
    scores = q @ k.transpose(-1, -2) / math.sqrt(d)
    scores = scores.masked_fill(~allowed[:, None], float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def test_document_masking_equals_separate_documents():
    q, k, v = _qkv(b=2, t=12)
    doc_ids = torch.tensor([[0] * 3 + [1] * 5 + [2] * 4, [7] * 6 + [3] * 6])
    out = attention(q, k, v, doc_ids=doc_ids)
    for b in range(2):
        bounds = torch.nonzero(torch.diff(doc_ids[b]) != 0).flatten().add(1).tolist()
        starts, ends = [0, *bounds], [*bounds, 12]
        for s, e in zip(starts, ends, strict=True):
            alone = attention(q[b : b + 1, :, s:e], k[b : b + 1, :, s:e], v[b : b + 1, :, s:e])
            torch.testing.assert_close(out[b : b + 1, :, s:e], alone, atol=1e-5, rtol=1e-5)
    # and the mask matters: without it, later documents see earlier ones
    assert not torch.allclose(attention(q, k, v), out, atol=1e-3)


@pytest.mark.parametrize("window", [1, 3, 5, 20])
@pytest.mark.parametrize("with_docs", [False, True])
def test_sliding_window_equals_brute_force_mask(window, with_docs):
    q, k, v = _qkv(b=2, t=11, seed=window)
    doc_ids = torch.tensor([[0] * 4 + [1] * 7, [2] * 11]) if with_docs else None
    out = attention(q, k, v, doc_ids=doc_ids, window=window)
    torch.testing.assert_close(out, _brute_force(q, k, v, doc_ids, window), atol=1e-5, rtol=1e-5)


def test_window_counts_the_query_itself():
    mask = attention_mask(6, window=3)[0, 0]
    assert mask[5].tolist() == [False, False, False, True, True, True]
    assert mask.sum(1).tolist() == [1, 2, 3, 3, 3, 3]
    noncausal = attention_mask(6, window=2, causal=False)[0, 0]
    assert noncausal[3].tolist() == [False, False, True, True, True, False]


def test_gqa_equals_mha_with_repeated_kv_heads():
    q, k, v = _qkv(h=6, hkv=2, t=9)
    doc_ids = torch.tensor([[0] * 5 + [1] * 4, [0] * 9])
    gqa = attention(q, k, v, doc_ids=doc_ids, window=4)
    # query heads 0,1,2 share kv head 0; heads 3,4,5 share kv head 1
    k_rep = torch.stack([k[:, h // 3] for h in range(6)], dim=1)
    v_rep = torch.stack([v[:, h // 3] for h in range(6)], dim=1)
    torch.testing.assert_close(gqa, _brute_force(q, k_rep, v_rep, doc_ids, 4), atol=1e-5, rtol=1e-5)


def test_dispatch_env_var_forces_backend(monkeypatch):
    monkeypatch.setattr(train, "_triton_loaded", False)  # keep the fake kernel registered
    q, k, v = _qkv(t=5)
    calls = []

    def fake_triton(q, k, v, doc_ids=None, window=None, causal=True, scale=None):
        calls.append(window)
        return attention_torch(q, k, v, doc_ids, window, causal, scale)

    monkeypatch.setitem(train._KERNELS, ("attention", "triton"), fake_triton)
    monkeypatch.setenv("CURATE_KERNELS", "torch")
    attention(q, k, v, window=2)
    assert calls == []
    monkeypatch.setenv("CURATE_KERNELS", "triton")
    attention(q, k, v, window=2)
    assert calls == [2]


def test_dispatch_default_and_errors(monkeypatch):
    monkeypatch.setattr(train, "_triton_loaded", False)  # keep the fake kernel registered
    monkeypatch.delenv("CURATE_KERNELS", raising=False)
    assert train.kernel_backend("cpu") == "torch"
    assert train.get_kernel("attention", "cpu") is attention_torch
    monkeypatch.setenv("CURATE_KERNELS", "triton")
    monkeypatch.delitem(train._KERNELS, ("attention", "triton"), raising=False)
    with pytest.raises(RuntimeError, match="no Triton kernel"):
        train.get_kernel("attention", "cpu")
    monkeypatch.setenv("CURATE_KERNELS", "cuda-magic")
    with pytest.raises(ValueError, match="CURATE_KERNELS"):
        train.get_kernel("attention", "cpu")
