"""The attention function the model calls, with document masking, sliding windows and GQA.

Shapes: ``q`` is (B, H, T, D); ``k`` and ``v`` are (B, Hkv, T, D) with H a multiple of Hkv
(grouped-query attention: query head h reads key/value head ``h // (H // Hkv)``); ``doc_ids``
is (B, T) integer, equal ids meaning the same document. The output is (B, H, T, D).

Which key positions j a query at position i may attend to:

- causal: ``j <= i``;
- window ``w`` (an int >= 1): ``i - j < w``, i.e. a query attends to itself and the ``w - 1``
  previous tokens (and, when not causal, also to the ``w - 1`` following tokens);
- documents: ``doc_ids[b, i] == doc_ids[b, j]``.

The pure-torch path builds that boolean mask explicitly and calls SDPA; a Triton kernel can
register itself under the same signature (see `train.get_kernel`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from train import get_kernel, register_kernel


def attention_mask(
    seq_len: int,
    doc_ids: torch.Tensor | None = None,
    window: int | None = None,
    causal: bool = True,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Boolean mask, True where a query (row) may attend to a key (column).

    Returns shape (B, 1, T, T) when `doc_ids` (B, T) is given, else (1, 1, T, T).
    """
    if doc_ids is not None:
        device = doc_ids.device
    pos = torch.arange(seq_len, device=device)
    diff = pos[:, None] - pos[None, :]  # (T, T): query position minus key position
    mask = torch.ones(seq_len, seq_len, dtype=torch.bool, device=device)
    if causal:
        mask &= diff >= 0
    if window is not None:
        if window < 1:
            raise ValueError(f"window must be >= 1 token, got {window}")
        mask &= diff.abs() < window
    mask = mask[None, None]
    if doc_ids is not None:
        mask = mask & (doc_ids[:, None, :, None] == doc_ids[:, None, None, :])
    return mask


def attention_torch(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    doc_ids: torch.Tensor | None = None,
    window: int | None = None,
    causal: bool = True,
    scale: float | None = None,
) -> torch.Tensor:
    """Reference attention: SDPA with an explicit mask (see the module docstring for shapes)."""
    n_heads, n_kv = q.shape[1], k.shape[1]
    if n_heads % n_kv:
        raise ValueError(f"{n_heads} query heads is not a multiple of {n_kv} key/value heads")
    gqa = n_kv != n_heads
    if doc_ids is None and window is None:
        return F.scaled_dot_product_attention(
            q, k, v, is_causal=causal, scale=scale, enable_gqa=gqa
        )
    mask = attention_mask(q.shape[2], doc_ids, window, causal, device=q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, enable_gqa=gqa)


register_kernel("attention", "torch", attention_torch)


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    doc_ids: torch.Tensor | None = None,
    window: int | None = None,
    causal: bool = True,
    scale: float | None = None,
) -> torch.Tensor:
    """Masked multi-head attention, dispatched to the Triton kernel or the torch reference.

    q: (B, H, T, D); k, v: (B, Hkv, T, D); doc_ids: (B, T) or None; window: tokens (the query
    itself included) or None for full attention; scale: softmax scale, default 1/sqrt(D).
    Returns (B, H, T, D).
    """
    fn = get_kernel("attention", q.device.type)
    return fn(q, k, v, doc_ids=doc_ids, window=window, causal=causal, scale=scale)
