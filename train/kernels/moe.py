"""Grouped-GEMM Triton kernels for the routed experts of `train.moe`.

Same contract as `train.moe.moe_experts_torch` (the torch reference, registered under
``"torch"``): x (N, d) tokens, expert_idx (N, k) int64, expert_weight (N, k) routing weights,
w1 and w3 (E, h, d), w2 (E, d, h) in nn.Linear's (out, in) layout. Returns (N, d)
``sum_j expert_weight[n, j] * w2[e] (silu(w1[e] x[n]) * w3[e] x[n])`` with ``e =
expert_idx[n, j]``.

Pipeline (no host synchronisation, no padded or gathered copies of x):

1. route: the N*k token-expert pairs are sorted by expert (stable), giving ``order`` (sorted
   row -> flat pair ``n * k + j``; its token is ``order // k``), its inverse ``inv`` (flat
   pair -> sorted row), per-expert ``offsets`` (E + 1) of the contiguous segments, and a
   tile table: expert e's segment is cut into ``ceil(count_e / BLOCK_M)`` row tiles, and
   program p of a grouped GEMM looks up its expert (``tile_expert[p]``, E for programs past
   the last tile, which return at once) and its tile within the segment (``p -
   tile_start[e]``). The grid is the static bound ``ceil(N k / BLOCK_M) + E`` tiles.
2. up: per row tile, the kernel gathers the x rows of its tokens (``x[order // k]``) and
   computes ``h1 = x w1[e]^T`` and ``h3 = x w3[e]^T`` (sorted rows, saved for backward).
3. down: ``z = (silu(h1) * h3) w2[e]^T`` per row tile (sorted rows).
4. combine: ``y[n] = sum_j expert_weight[n, j] * z[inv[n k + j]]`` (un-permute and weighted
   sum in one kernel, each output row written by one program: no atomics).

Backward: ``dweight[n, j] = <dy[n], z[inv[n k + j]]>``; a row-tile kernel computes ``da =
(w * dy[token]) w2[e]`` and the SwiGLU derivative (``dh1``, ``dh3``); per-expert reduction
kernels compute ``dw2[e] = sum_r (w_r dy[token_r])^T a_r`` and ``dw1[e], dw3[e] = sum_r
dh1_r^T x[token_r], dh3_r^T x[token_r]`` over the rows of the expert's segment (an expert
with no tokens gets zero gradients); a row-tile kernel computes ``dh1 w1[e] + dh3 w3[e]``
and the combine kernel sums each token's k rows into dx. Matmul operands stay in the input
dtype with fp32 accumulation (the CPU interpreter needs fp32 inputs); fp32 operands multiply
in IEEE fp32 unless torch's fp32 matmuls are set to TF32 (`train.kernels.precision`).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from train.kernels.precision import dot, ieee_dots, matmul_operands
from train.moe import moe_experts_torch

DEFAULT_BLOCKS = (64, 64, 32)  # (rows per tile, output columns per program, reduction step)


@triton.jit
def _tile_rows(TILE_EXPERT, TILE_START, OFFSETS, pid, BLOCK_M: tl.constexpr):
    """Expert, sorted rows and row mask of row tile `pid` (expert == n_experts: no tile)."""
    e = tl.load(TILE_EXPERT + pid)
    seg_end = tl.load(OFFSETS + e + 1)
    row0 = tl.load(OFFSETS + e) + (pid - tl.load(TILE_START + e)) * BLOCK_M
    rows = row0 + tl.arange(0, BLOCK_M)
    return e, rows, rows < seg_end


@triton.jit
def _moe_up_kernel(
    X, W1, W3, H1, H3, ORDER, TILE_EXPERT, TILE_START, OFFSETS,
    n_experts, top_k, dim, hidden,
    stride_xn, stride_w1e, stride_w1o, stride_w3e, stride_w3o,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    IEEE_DOT: tl.constexpr,
):
    pid = tl.program_id(0)
    if tl.load(TILE_EXPERT + pid) >= n_experts:
        return
    e, rows, rmask = _tile_rows(TILE_EXPERT, TILE_START, OFFSETS, pid, BLOCK_M)
    e = e.to(tl.int64)
    tok = (tl.load(ORDER + rows, mask=rmask, other=0) // top_k).to(tl.int64)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    nmask = offs_n < hidden
    acc1 = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    acc3 = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    for k0 in range(0, dim, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        kmask = offs_k < dim
        x = tl.load(X + tok[:, None] * stride_xn + offs_k[None, :],
                    mask=rmask[:, None] & kmask[None, :], other=0.0)
        wmask = kmask[:, None] & nmask[None, :]
        w1 = tl.load(W1 + e * stride_w1e + offs_n[None, :] * stride_w1o + offs_k[:, None],
                     mask=wmask, other=0.0)
        w3 = tl.load(W3 + e * stride_w3e + offs_n[None, :] * stride_w3o + offs_k[:, None],
                     mask=wmask, other=0.0)
        acc1 += dot(x, w1, IEEE_DOT)
        acc3 += dot(x, w3, IEEE_DOT)
    out = rows.to(tl.int64)[:, None] * hidden + offs_n[None, :]
    omask = rmask[:, None] & nmask[None, :]
    tl.store(H1 + out, acc1.to(H1.dtype.element_ty), mask=omask)
    tl.store(H3 + out, acc3.to(H3.dtype.element_ty), mask=omask)


@triton.jit
def _moe_down_kernel(
    H1, H3, W2, Z, TILE_EXPERT, TILE_START, OFFSETS,
    n_experts, dim, hidden, stride_w2e, stride_w2o,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    IEEE_DOT: tl.constexpr,
):
    pid = tl.program_id(0)
    if tl.load(TILE_EXPERT + pid) >= n_experts:
        return
    e, rows, rmask = _tile_rows(TILE_EXPERT, TILE_START, OFFSETS, pid, BLOCK_M)
    e = e.to(tl.int64)
    rows64 = rows.to(tl.int64)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    nmask = offs_n < dim
    acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    for k0 in range(0, hidden, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        kmask = offs_k < hidden
        hmask = rmask[:, None] & kmask[None, :]
        h1 = tl.load(H1 + rows64[:, None] * hidden + offs_k[None, :], mask=hmask,
                     other=0.0).to(tl.float32)
        h3 = tl.load(H3 + rows64[:, None] * hidden + offs_k[None, :], mask=hmask,
                     other=0.0).to(tl.float32)
        w2 = tl.load(W2 + e * stride_w2e + offs_n[None, :] * stride_w2o + offs_k[:, None],
                     mask=kmask[:, None] & nmask[None, :], other=0.0)
        a = h1 * tl.sigmoid(h1) * h3
        acc += dot(a.to(w2.dtype), w2, IEEE_DOT)
    tl.store(Z + rows64[:, None] * dim + offs_n[None, :], acc.to(Z.dtype.element_ty),
             mask=rmask[:, None] & nmask[None, :])


@triton.jit
def _moe_combine_kernel(
    SRC, INV, SCALE, OUT, n_tokens, top_k, dim,
    HAS_SCALE: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_D: tl.constexpr,
):
    """OUT[n] = sum_j SCALE[n, j] * SRC[INV[n k + j]] (SCALE omitted: plain sum)."""
    offs_t = (tl.program_id(0) * BLOCK_T + tl.arange(0, BLOCK_T)).to(tl.int64)
    offs_d = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    tmask = offs_t < n_tokens
    mask = tmask[:, None] & (offs_d[None, :] < dim)
    acc = tl.zeros([BLOCK_T, BLOCK_D], tl.float32)
    for j in range(top_k):
        r = tl.load(INV + offs_t * top_k + j, mask=tmask, other=0).to(tl.int64)
        src = tl.load(SRC + r[:, None] * dim + offs_d[None, :], mask=mask,
                      other=0.0).to(tl.float32)
        if HAS_SCALE:
            scale = tl.load(SCALE + offs_t * top_k + j, mask=tmask, other=0.0)
            src = src * scale.to(tl.float32)[:, None]
        acc += src
    tl.store(OUT + offs_t[:, None] * dim + offs_d[None, :], acc.to(OUT.dtype.element_ty),
             mask=mask)


@triton.jit
def _moe_dweight_kernel(
    DY, Z, INV, DW, n_tokens, top_k, dim, BLOCK_T: tl.constexpr, BLOCK_D: tl.constexpr,
):
    """DW[n, j] = <DY[n], Z[INV[n k + j]]>."""
    offs_t = (tl.program_id(0) * BLOCK_T + tl.arange(0, BLOCK_T)).to(tl.int64)
    tmask = offs_t < n_tokens
    for j in range(top_k):
        r = tl.load(INV + offs_t * top_k + j, mask=tmask, other=0).to(tl.int64)
        acc = tl.zeros([BLOCK_T, BLOCK_D], tl.float32)
        for d0 in range(0, dim, BLOCK_D):
            offs_d = d0 + tl.arange(0, BLOCK_D)
            mask = tmask[:, None] & (offs_d[None, :] < dim)
            dy = tl.load(DY + offs_t[:, None] * dim + offs_d[None, :], mask=mask,
                         other=0.0).to(tl.float32)
            z = tl.load(Z + r[:, None] * dim + offs_d[None, :], mask=mask,
                        other=0.0).to(tl.float32)
            acc += dy * z
        tl.store(DW + offs_t * top_k + j, tl.sum(acc, 1).to(DW.dtype.element_ty), mask=tmask)


@triton.jit
def _moe_dgrad_act_kernel(
    DY, WEIGHT, W2, H1, H3, DH1, DH3, ORDER, TILE_EXPERT, TILE_START, OFFSETS,
    n_experts, top_k, dim, hidden, stride_w2e, stride_w2o,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    IEEE_DOT: tl.constexpr,
):
    """da = (w_r dy[token_r]) w2[e]; dh1 = da * h3 * silu'(h1); dh3 = da * silu(h1)."""
    pid = tl.program_id(0)
    if tl.load(TILE_EXPERT + pid) >= n_experts:
        return
    e, rows, rmask = _tile_rows(TILE_EXPERT, TILE_START, OFFSETS, pid, BLOCK_M)
    e = e.to(tl.int64)
    rows64 = rows.to(tl.int64)
    pair = tl.load(ORDER + rows, mask=rmask, other=0).to(tl.int64)
    tok = pair // top_k
    wr = tl.load(WEIGHT + pair, mask=rmask, other=0.0).to(tl.float32)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    nmask = offs_n < hidden
    acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    for k0 in range(0, dim, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        kmask = offs_k < dim
        dy = tl.load(DY + tok[:, None] * dim + offs_k[None, :],
                     mask=rmask[:, None] & kmask[None, :], other=0.0)
        w2 = tl.load(W2 + e * stride_w2e + offs_k[:, None] * stride_w2o + offs_n[None, :],
                     mask=kmask[:, None] & nmask[None, :], other=0.0)
        acc += dot(dy.to(w2.dtype), w2, IEEE_DOT)
    da = acc * wr[:, None]
    omask = rmask[:, None] & nmask[None, :]
    out = rows64[:, None] * hidden + offs_n[None, :]
    h1 = tl.load(H1 + out, mask=omask, other=0.0).to(tl.float32)
    h3 = tl.load(H3 + out, mask=omask, other=0.0).to(tl.float32)
    sig = tl.sigmoid(h1)
    dh1 = da * h3 * sig * (1.0 + h1 * (1.0 - sig))
    dh3 = da * h1 * sig
    tl.store(DH1 + out, dh1.to(DH1.dtype.element_ty), mask=omask)
    tl.store(DH3 + out, dh3.to(DH3.dtype.element_ty), mask=omask)


@triton.jit
def _moe_dgrad_x_kernel(
    DH1, DH3, W1, W3, DXS, TILE_EXPERT, TILE_START, OFFSETS,
    n_experts, dim, hidden, stride_w1e, stride_w1o, stride_w3e, stride_w3o,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    IEEE_DOT: tl.constexpr,
):
    """DXS[r] = dh1[r] w1[e] + dh3[r] w3[e] (sorted rows, summed per token by combine)."""
    pid = tl.program_id(0)
    if tl.load(TILE_EXPERT + pid) >= n_experts:
        return
    e, rows, rmask = _tile_rows(TILE_EXPERT, TILE_START, OFFSETS, pid, BLOCK_M)
    e = e.to(tl.int64)
    rows64 = rows.to(tl.int64)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    nmask = offs_n < dim
    acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    for k0 in range(0, hidden, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        kmask = offs_k < hidden
        hmask = rmask[:, None] & kmask[None, :]
        wmask = kmask[:, None] & nmask[None, :]
        dh1 = tl.load(DH1 + rows64[:, None] * hidden + offs_k[None, :], mask=hmask, other=0.0)
        dh3 = tl.load(DH3 + rows64[:, None] * hidden + offs_k[None, :], mask=hmask, other=0.0)
        w1 = tl.load(W1 + e * stride_w1e + offs_k[:, None] * stride_w1o + offs_n[None, :],
                     mask=wmask, other=0.0)
        w3 = tl.load(W3 + e * stride_w3e + offs_k[:, None] * stride_w3o + offs_n[None, :],
                     mask=wmask, other=0.0)
        acc += dot(dh1.to(w1.dtype), w1, IEEE_DOT)
        acc += dot(dh3.to(w3.dtype), w3, IEEE_DOT)
    tl.store(DXS + rows64[:, None] * dim + offs_n[None, :], acc.to(DXS.dtype.element_ty),
             mask=rmask[:, None] & nmask[None, :])


@triton.jit
def _moe_wgrad_up_kernel(
    DH1, DH3, X, ORDER, OFFSETS, DW1, DW3, top_k, dim, hidden, stride_xn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    IEEE_DOT: tl.constexpr,
):
    """dw1[e] = sum_r dh1_r^T x[token_r], dw3[e] likewise, over expert e's segment."""
    e = tl.program_id(0).to(tl.int64)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)  # hidden
    offs_k = tl.program_id(2) * BLOCK_K + tl.arange(0, BLOCK_K)  # dim
    nmask = offs_n < hidden
    kmask = offs_k < dim
    seg_start = tl.load(OFFSETS + e)
    seg_end = tl.load(OFFSETS + e + 1)
    acc1 = tl.zeros([BLOCK_N, BLOCK_K], tl.float32)
    acc3 = tl.zeros([BLOCK_N, BLOCK_K], tl.float32)
    for r0 in range(seg_start, seg_end, BLOCK_M):
        rows = r0 + tl.arange(0, BLOCK_M)
        rmask = rows < seg_end
        rows64 = rows.to(tl.int64)
        tok = (tl.load(ORDER + rows, mask=rmask, other=0) // top_k).to(tl.int64)
        x = tl.load(X + tok[:, None] * stride_xn + offs_k[None, :],
                    mask=rmask[:, None] & kmask[None, :], other=0.0)
        hmask = rmask[:, None] & nmask[None, :]
        dh1 = tl.load(DH1 + rows64[:, None] * hidden + offs_n[None, :], mask=hmask, other=0.0)
        dh3 = tl.load(DH3 + rows64[:, None] * hidden + offs_n[None, :], mask=hmask, other=0.0)
        acc1 += dot(tl.trans(dh1.to(x.dtype)), x, IEEE_DOT)
        acc3 += dot(tl.trans(dh3.to(x.dtype)), x, IEEE_DOT)
    out = e * hidden * dim + offs_n[:, None] * dim + offs_k[None, :]
    omask = nmask[:, None] & kmask[None, :]
    tl.store(DW1 + out, acc1.to(DW1.dtype.element_ty), mask=omask)
    tl.store(DW3 + out, acc3.to(DW3.dtype.element_ty), mask=omask)


@triton.jit
def _moe_wgrad_down_kernel(
    DY, WEIGHT, H1, H3, ORDER, OFFSETS, DW2, top_k, dim, hidden,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    IEEE_DOT: tl.constexpr,
):
    """dw2[e] = sum_r (w_r dy[token_r])^T (silu(h1_r) * h3_r) over expert e's segment."""
    e = tl.program_id(0).to(tl.int64)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)  # dim
    offs_k = tl.program_id(2) * BLOCK_K + tl.arange(0, BLOCK_K)  # hidden
    nmask = offs_n < dim
    kmask = offs_k < hidden
    seg_start = tl.load(OFFSETS + e)
    seg_end = tl.load(OFFSETS + e + 1)
    acc = tl.zeros([BLOCK_N, BLOCK_K], tl.float32)
    for r0 in range(seg_start, seg_end, BLOCK_M):
        rows = r0 + tl.arange(0, BLOCK_M)
        rmask = rows < seg_end
        rows64 = rows.to(tl.int64)
        pair = tl.load(ORDER + rows, mask=rmask, other=0).to(tl.int64)
        wr = tl.load(WEIGHT + pair, mask=rmask, other=0.0).to(tl.float32)
        dy = tl.load(DY + (pair // top_k)[:, None] * dim + offs_n[None, :],
                     mask=rmask[:, None] & nmask[None, :], other=0.0).to(tl.float32)
        hmask = rmask[:, None] & kmask[None, :]
        h1 = tl.load(H1 + rows64[:, None] * hidden + offs_k[None, :], mask=hmask,
                     other=0.0).to(tl.float32)
        h3 = tl.load(H3 + rows64[:, None] * hidden + offs_k[None, :], mask=hmask,
                     other=0.0).to(tl.float32)
        a = h1 * tl.sigmoid(h1) * h3
        dz = dy * wr[:, None]
        acc += dot(tl.trans(dz.to(H1.dtype.element_ty)), a.to(H1.dtype.element_ty),
                   IEEE_DOT)
    tl.store(DW2 + e * dim * hidden + offs_n[:, None] * hidden + offs_k[None, :],
             acc.to(DW2.dtype.element_ty), mask=nmask[:, None] & kmask[None, :])


def route_tables(
    expert_idx: torch.Tensor, n_experts: int, block_m: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sort the token-expert pairs by expert and cut the segments into row tiles.

    expert_idx: (N, k) int64. Returns int32 tensors ``order`` (N k,) sorted row -> flat pair,
    ``inv`` (N k,) flat pair -> sorted row, ``offsets`` (E + 1,) segment bounds,
    ``tile_expert`` (ceil(N k / block_m) + E,) expert of each tile (E past the last tile) and
    ``tile_start`` (E,) index of each expert's first tile. No host synchronisation.
    """
    flat = expert_idx.reshape(-1)
    dev = flat.device
    order = torch.argsort(flat, stable=True)
    inv = torch.empty_like(order)
    inv[order] = torch.arange(flat.numel(), device=dev)
    counts = torch.bincount(flat, minlength=n_experts)
    offsets = torch.zeros(n_experts + 1, dtype=torch.int64, device=dev)
    offsets[1:] = torch.cumsum(counts, 0)
    tiles = (counts + block_m - 1) // block_m
    tile_end = torch.cumsum(tiles, 0)
    max_tiles = triton.cdiv(flat.numel(), block_m) + n_experts
    tile_expert = torch.searchsorted(tile_end, torch.arange(max_tiles, device=dev), right=True)
    as32 = [t.to(torch.int32).contiguous() for t in (order, inv, offsets, tile_expert)]
    return (*as32, (tile_end - tiles).to(torch.int32).contiguous())


def _check_blocks(blocks: tuple[int, int, int]) -> None:
    for b in blocks:
        if b < 16 or b & (b - 1):
            raise ValueError(f"MoE block sizes must be powers of two >= 16, got {blocks}")


class _MoEExperts(torch.autograd.Function):
    """Autograd wrapper around the grouped-GEMM kernels (see the module docstring)."""

    @staticmethod
    def forward(ctx, x, expert_idx, expert_weight, w1, w3, w2, blocks):
        bm, bn, bk = blocks
        n, d = x.shape
        k = expert_idx.shape[1]
        n_exp, hidden = w1.shape[0], w1.shape[1]
        order, inv, offsets, tile_expert, tile_start = route_tables(expert_idx, n_exp, bm)
        weight = expert_weight.reshape(-1).contiguous()
        rows = n * k
        h1 = x.new_empty(rows, hidden)
        h3 = x.new_empty(rows, hidden)
        z = x.new_empty(rows, d)
        tables = (tile_expert, tile_start, offsets)
        n_tiles = tile_expert.numel()
        ieee = ieee_dots(x.dtype)
        _moe_up_kernel[(n_tiles, triton.cdiv(hidden, bn))](
            x, w1, w3, h1, h3, order, *tables, n_exp, k, d, hidden,
            x.stride(0), w1.stride(0), w1.stride(1), w3.stride(0), w3.stride(1),
            BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, IEEE_DOT=ieee,
        )
        _moe_down_kernel[(n_tiles, triton.cdiv(d, bn))](
            h1, h3, w2, z, *tables, n_exp, d, hidden, w2.stride(0), w2.stride(1),
            BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, IEEE_DOT=ieee,
        )
        y = torch.empty_like(x)
        _moe_combine_kernel[(triton.cdiv(n, bm), triton.cdiv(d, bn))](
            z, inv, weight, y, n, k, d, HAS_SCALE=True, BLOCK_T=bm, BLOCK_D=bn,
        )
        ctx.save_for_backward(x, weight, w1, w3, w2, order, inv, *tables, h1, h3, z)
        ctx.conf = (blocks, expert_weight.shape)
        return y

    @staticmethod
    def backward(ctx, dy):
        (blocks, weight_shape) = ctx.conf
        bm, bn, bk = blocks
        x, weight, w1, w3, w2, order, inv, tile_expert, tile_start, offsets, h1, h3, z = (
            ctx.saved_tensors
        )
        tables = (tile_expert, tile_start, offsets)
        dy = dy.contiguous()
        n, d = x.shape
        k = weight_shape[1]
        n_exp, hidden = w1.shape[0], w1.shape[1]
        n_tiles = tile_expert.numel()
        ieee = ieee_dots(x.dtype)

        dweight = torch.empty(n, k, dtype=weight.dtype, device=x.device)
        _moe_dweight_kernel[(triton.cdiv(n, bm),)](
            dy, z, inv, dweight, n, k, d, BLOCK_T=bm, BLOCK_D=bn,
        )
        dh1 = torch.empty_like(h1)
        dh3 = torch.empty_like(h3)
        _moe_dgrad_act_kernel[(n_tiles, triton.cdiv(hidden, bn))](
            dy, weight, w2, h1, h3, dh1, dh3, order, *tables, n_exp, k, d, hidden,
            w2.stride(0), w2.stride(1), BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, IEEE_DOT=ieee,
        )
        dxs = torch.empty_like(z)
        _moe_dgrad_x_kernel[(n_tiles, triton.cdiv(d, bn))](
            dh1, dh3, w1, w3, dxs, *tables, n_exp, d, hidden,
            w1.stride(0), w1.stride(1), w3.stride(0), w3.stride(1),
            BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, IEEE_DOT=ieee,
        )
        dx = torch.empty_like(x)
        _moe_combine_kernel[(triton.cdiv(n, bm), triton.cdiv(d, bn))](
            dxs, inv, dxs, dx, n, k, d, HAS_SCALE=False, BLOCK_T=bm, BLOCK_D=bn,
        )
        dw1 = torch.empty(w1.shape, dtype=w1.dtype, device=w1.device)
        dw3 = torch.empty(w3.shape, dtype=w3.dtype, device=w3.device)
        dw2 = torch.empty(w2.shape, dtype=w2.dtype, device=w2.device)
        _moe_wgrad_up_kernel[(n_exp, triton.cdiv(hidden, bn), triton.cdiv(d, bk))](
            dh1, dh3, x, order, offsets, dw1, dw3, k, d, hidden, x.stride(0),
            BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, IEEE_DOT=ieee,
        )
        _moe_wgrad_down_kernel[(n_exp, triton.cdiv(d, bn), triton.cdiv(hidden, bk))](
            dy, weight, h1, h3, order, offsets, dw2, k, d, hidden,
            BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, IEEE_DOT=ieee,
        )
        return dx, None, dweight.reshape(weight_shape), dw1, dw3, dw2, None


def moe_experts_grouped(
    x: torch.Tensor,
    expert_idx: torch.Tensor,
    expert_weight: torch.Tensor,
    w1: torch.Tensor,
    w3: torch.Tensor,
    w2: torch.Tensor,
    blocks: tuple[int, int, int] = DEFAULT_BLOCKS,
) -> torch.Tensor:
    """Grouped-GEMM MoE experts with explicit block sizes (see the module docstring).

    blocks: (rows per tile, output columns per program, reduction step), powers of two >= 16.
    Shapes as in `moe_experts_triton`.
    """
    _check_blocks(blocks)
    n, d = x.shape
    n_exp, hidden, d_in = w1.shape
    if d_in != d or w3.shape != w1.shape or w2.shape != (n_exp, d, hidden):
        raise ValueError(f"x {tuple(x.shape)}, w1 {tuple(w1.shape)}, w3 {tuple(w3.shape)}, "
                         f"w2 {tuple(w2.shape)}")
    if expert_idx.shape != expert_weight.shape or expert_idx.shape[0] != n:
        raise ValueError(f"expert_idx {tuple(expert_idx.shape)}, weight "
                         f"{tuple(expert_weight.shape)} for {n} tokens")
    if n == 0:  # nothing to launch: the reference handles the empty batch
        return moe_experts_torch(x, expert_idx, expert_weight, w1, w3, w2)
    x, w1, w3, w2 = matmul_operands(x, w1, w3, w2)
    w1, w3, w2 = (w if w.stride(-1) == 1 else w.contiguous() for w in (w1, w3, w2))
    return _MoEExperts.apply(x.contiguous(), expert_idx, expert_weight, w1, w3, w2, blocks)


def moe_experts_triton(
    x: torch.Tensor,
    expert_idx: torch.Tensor,
    expert_weight: torch.Tensor,
    w1: torch.Tensor,
    w3: torch.Tensor,
    w2: torch.Tensor,
) -> torch.Tensor:
    """Weighted sum of each token's selected experts: the signature of `moe_experts_torch`.

    x: (N, d); expert_idx: (N, k) int64; expert_weight: (N, k); w1, w3: (E, h, d); w2:
    (E, d, h). Returns (N, d).
    """
    return moe_experts_grouped(x, expert_idx, expert_weight, w1, w3, w2)
