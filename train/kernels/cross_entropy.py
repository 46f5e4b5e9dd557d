"""Fused cross-entropy with optional logit soft-capping and z-loss, chunked over the vocabulary.

The Triton implementation of `train.loss`'s ``"lm_losses"`` operation, which the model's
loss uses on CUDA (`cross_entropy_torch` here is `train.loss.lm_losses_torch`, the
reference): with ``c = cap * tanh(logits / cap)`` when
``softcap > 0`` (else ``c = logits``) and ``lse = logsumexp(c)`` per row,

- ``ce = mean over labelled rows of (lse - c[label])`` (rows with ``ignore_index`` skipped),
- ``z_loss = mean over labelled rows of lse^2`` (unweighted; the caller multiplies by its
  coefficient).

The capped logits are never materialised: the forward kernel streams each block of rows over
the vocabulary in ``block_v`` chunks with an online max / sum (fp32) and saves only ``lse``
(N,); the backward kernel recomputes ``softmax(c)`` tile by tile and writes
``dlogits = (g_ce (p - onehot) + g_z 2 lse p) * (1 - (c / cap)^2)`` (the last factor only
with soft-capping), where g_ce and g_z are the incoming gradients divided by the number of
labelled rows. tanh is computed as ``2 sigmoid(2x) - 1``.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from train.loss import IGNORE_INDEX
from train.loss import lm_losses_torch as cross_entropy_torch

__all__ = ["IGNORE_INDEX", "cross_entropy_torch", "fused_cross_entropy"]
NUM_WARPS = 8
"""Warps per program of both kernels: at the default 16 x 1024 tile, 4 warps spill registers
on sm_80 and sm_90 and 8 do not (`python -m train.kernels.compile_check --only ce`)."""


@triton.jit
def _capped(raw, softcap, SOFTCAP: tl.constexpr):
    if SOFTCAP:
        return softcap * (2.0 * tl.sigmoid(2.0 * raw / softcap) - 1.0)
    return raw


@triton.jit
def _ce_fwd_kernel(
    LOGITS, LABELS, LSE, LOSS, n_rows, vocab, stride_row, softcap, ignore_index,
    SOFTCAP: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_V: tl.constexpr,
):
    """Per row: LSE = logsumexp(c), LOSS = lse - c[label] (0 for ignored rows)."""
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    rmask = rows < n_rows
    rows64 = rows.to(tl.int64)
    label = tl.load(LABELS + rows64, mask=rmask, other=ignore_index)
    m = tl.full([BLOCK_N], -1.0e30, tl.float32)
    s = tl.zeros([BLOCK_N], tl.float32)
    target = tl.zeros([BLOCK_N], tl.float32)
    for v0 in range(0, vocab, BLOCK_V):
        cols = v0 + tl.arange(0, BLOCK_V)
        mask = rmask[:, None] & (cols[None, :] < vocab)
        raw = tl.load(LOGITS + rows64[:, None] * stride_row + cols[None, :], mask=mask,
                      other=0.0).to(tl.float32)
        c = tl.where(mask, _capped(raw, softcap, SOFTCAP), float("-inf"))
        m_new = tl.maximum(m, tl.max(c, 1))
        s = s * tl.exp(m - m_new) + tl.sum(tl.exp(c - m_new[:, None]), 1)
        m = m_new
        target += tl.sum(tl.where(cols[None, :] == label[:, None], c, 0.0), 1)
    lse = m + tl.log(tl.where(s > 0, s, 1.0))
    tl.store(LSE + rows64, lse, mask=rmask)
    tl.store(LOSS + rows64, tl.where(label != ignore_index, lse - target, 0.0), mask=rmask)


@triton.jit
def _ce_bwd_kernel(
    LOGITS, LABELS, LSE, G_CE, G_Z, DLOGITS, n_rows, vocab, stride_row, stride_drow, softcap,
    SOFTCAP: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_V: tl.constexpr,
):
    """One (rows, vocabulary chunk) tile of dlogits (G_CE, G_Z: per-row incoming gradients,
    zero on ignored rows)."""
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.program_id(1) * BLOCK_V + tl.arange(0, BLOCK_V)
    rmask = rows < n_rows
    rows64 = rows.to(tl.int64)
    mask = rmask[:, None] & (cols[None, :] < vocab)
    raw = tl.load(LOGITS + rows64[:, None] * stride_row + cols[None, :], mask=mask,
                  other=0.0).to(tl.float32)
    label = tl.load(LABELS + rows64, mask=rmask, other=-1)
    lse = tl.load(LSE + rows64, mask=rmask, other=0.0)
    g_ce = tl.load(G_CE + rows64, mask=rmask, other=0.0)
    g_z = tl.load(G_Z + rows64, mask=rmask, other=0.0)
    c = _capped(raw, softcap, SOFTCAP)
    p = tl.exp(tl.where(mask, c - lse[:, None], float("-inf")))
    onehot = tl.where(cols[None, :] == label[:, None], 1.0, 0.0)
    grad = g_ce[:, None] * (p - onehot) + (g_z * 2.0 * lse)[:, None] * p
    if SOFTCAP:
        t = c / softcap
        grad = grad * (1.0 - t * t)
    tl.store(DLOGITS + rows64[:, None] * stride_drow + cols[None, :],
             grad.to(DLOGITS.dtype.element_ty), mask=mask)


class _FusedCrossEntropy(torch.autograd.Function):
    """Autograd wrapper: saves the logits, labels and per-row lse."""

    @staticmethod
    def forward(ctx, logits, labels, softcap, ignore_index, block_n, block_v):
        n, vocab = logits.shape
        lse = torch.empty(n, dtype=torch.float32, device=logits.device)
        loss = torch.empty_like(lse)
        _ce_fwd_kernel[(triton.cdiv(n, block_n),)](
            logits, labels, lse, loss, n, vocab, logits.stride(0), softcap, ignore_index,
            SOFTCAP=softcap > 0, BLOCK_N=block_n, BLOCK_V=block_v, num_warps=NUM_WARPS,
        )
        valid = labels != ignore_index
        n_valid = valid.sum()
        ce = loss.sum() / n_valid
        z_loss = (lse.square() * valid).sum() / n_valid
        ctx.save_for_backward(logits, labels, lse, valid, n_valid)
        ctx.conf = (softcap, block_n, block_v)
        return ce, z_loss

    @staticmethod
    def backward(ctx, d_ce, d_z):
        logits, labels, lse, valid, n_valid = ctx.saved_tensors
        softcap, block_n, block_v = ctx.conf
        n, vocab = logits.shape
        per_row = valid.float() / n_valid
        g_ce = (per_row * d_ce).contiguous()
        g_z = (per_row * d_z).contiguous()
        dlogits = torch.empty_like(logits)
        _ce_bwd_kernel[(triton.cdiv(n, block_n), triton.cdiv(vocab, block_v))](
            logits, labels, lse, g_ce, g_z, dlogits, n, vocab, logits.stride(0),
            dlogits.stride(0), softcap, SOFTCAP=softcap > 0, BLOCK_N=block_n, BLOCK_V=block_v,
            num_warps=NUM_WARPS,
        )
        return dlogits, None, None, None, None, None


def fused_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    softcap: float = 0.0,
    ignore_index: int = IGNORE_INDEX,
    block_n: int = 16,
    block_v: int = 1024,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy and mean squared logsumexp over the labelled rows.

    logits: (N, V) raw (uncapped) logits, any float dtype; labels: (N,) int64 with
    `ignore_index` where no loss is taken; softcap: ``cap`` of ``cap * tanh(logits / cap)``,
    0 for none; block_n rows and block_v vocabulary entries per tile (powers of two >= 16).
    Returns ``(ce, z_loss)`` float32 scalars, differentiable with respect to `logits`
    (NaN when no row is labelled, as the torch reference).
    """
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)}")
    for name, b in (("block_n", block_n), ("block_v", block_v)):
        if b < 16 or b & (b - 1):
            raise ValueError(f"{name} must be a power of two >= 16, got {b}")
    if logits.stride(-1) != 1:
        logits = logits.contiguous()
    return _FusedCrossEntropy.apply(
        logits, labels.contiguous(), float(softcap), ignore_index, block_n, block_v
    )
