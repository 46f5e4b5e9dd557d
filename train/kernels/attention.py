"""FlashAttention-2-style Triton attention for packed variable-length batches.

Same contract as `train.attention.attention_torch` (the torch reference, registered under
``"torch"``): ``q`` (B, H, T, D), ``k`` and ``v`` (B, Hkv, T, D) with H a multiple of Hkv
(query head h reads key/value head ``h // (H // Hkv)``), ``doc_ids`` (B, T) or None,
``window`` (tokens, the query itself included) or None, ``causal``, ``scale`` (default
``1 / sqrt(D)``). Returns (B, H, T, D) in q's dtype.

Conventions of the kernels:

- Documents. ``doc_ids`` rows are packed documents, each one a *contiguous* run of equal ids
  (what `train.data` writes: a cumulative sum of end-of-document flags). `doc_bounds`
  converts them to per-token run bounds ``start[b, i]`` and ``end[b, i]`` (int32, the
  half-open run ``[start, end)`` that holds token i), the per-token form of ``cu_seqlens``.
  A key j is visible from a query i only if ``start[b, i] <= j < end[b, i]``. The kernels
  only visit the key (query) blocks that can hold a visible pair, so a block of queries in
  a short document never reads the rest of the row.
- Window ``w``: ``i - j < w`` (and ``j - i < w`` when not causal), as in `train.attention`.
- Forward: one program per (query block, batch x head); online softmax in base 2 (scores
  are multiplied by ``scale * log2(e)``), fp32 accumulators; it saves the output and the
  base-2 log-sum-exp ``lse`` (B, H, T) float32.
- Backward: a pre-pass computes ``delta = rowsum(dO * O)`` (B, H, T); then one pass per key
  block and key/value head accumulates dK and dV over every query head of its group and every
  query block that can see it, and a separate pass per query block accumulates dQ. No
  atomics: every output element is written by exactly one program.
- Matmul operands stay in the input dtype (bf16 on GPU runs on the tensor cores), products
  accumulate in fp32. fp32 operands multiply in IEEE fp32 unless torch's fp32 matmuls are
  set to TF32 (`train.kernels.precision`). Triton's CPU interpreter computes bf16 wrongly, so
  the CPU tests use fp32.
- q, k, v, dO may have any strides with a unit stride on the last (head) dimension; the
  output and the gradients are allocated with the strides of q, k and v (a q that is a
  transposed (B, T, H, D) view gives an output whose ``transpose(1, 2)`` is contiguous).

- Tiles. Each pass has its own `Tile` (queries and keys per block, warps, pipeline stages),
  chosen per head dimension by `default_tiles`: the largest of the shapes tried that compiles
  without register spills on sm_80 and sm_90 and fits the 99 KiB of shared memory of sm_86/89
  (`python -m train.kernels.compile_check`). They are not tuned for speed on a GPU yet.

The torch reference is `train.attention.attention_torch` (re-exported here as
`attention_reference`). `flash_attention` takes optional block sizes for every pass
(``block_m`` queries, ``block_n`` keys; powers of two, at least 16; tests use 16);
`attention_triton` is the registered function with the reference signature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from train.attention import attention_torch as attention_reference
from train.kernels.precision import dot, ieee_dots, matmul_operands

__all__ = [
    "Tile", "Tiles", "attention_reference", "attention_triton", "default_tiles", "doc_bounds",
    "flash_attention",
]

LOG2E = 1.4426950408889634


@dataclass(frozen=True)
class Tile:
    """Launch shape of one pass: ``block_m`` queries by ``block_n`` keys per step (powers of
    two >= 16), ``num_warps`` per program, ``num_stages`` of software pipelining."""

    block_m: int
    block_n: int
    num_warps: int = 4
    num_stages: int = 3

    def __post_init__(self) -> None:
        for name in ("block_m", "block_n"):
            value = getattr(self, name)
            if value < 16 or value & (value - 1):
                raise ValueError(f"{name} must be a power of two >= 16, got {value}")

    def launch(self) -> dict[str, int]:
        """Keyword arguments of a kernel launch with this tile."""
        return dict(BLOCK_M=self.block_m, BLOCK_N=self.block_n, num_warps=self.num_warps,
                    num_stages=self.num_stages)


@dataclass(frozen=True)
class Tiles:
    """The tiles of the forward pass and of the dK/dV and dQ backward passes."""

    fwd: Tile
    dkdv: Tile
    dq: Tile

    @classmethod
    def uniform(cls, block_m: int, block_n: int) -> Tiles:
        tile = Tile(block_m, block_n)
        return cls(tile, tile, tile)


_TILES = {
    # largest head dim served: tiles (worst registers per thread on sm_90 / sm_80 from ptxas,
    # shared memory on sm_90; none spills)
    64: Tiles(fwd=Tile(128, 64, 8, 3),    # 155 / 184, 64 KiB
              dkdv=Tile(64, 32, 8, 2),    # 169 / 175, 29 KiB
              dq=Tile(64, 32, 8, 3)),     # 95 / 170, 40 KiB
    128: Tiles(fwd=Tile(128, 64, 8, 2),   # 248 / 255, 96 KiB
               dkdv=Tile(32, 64, 8, 3),   # 222 / 246, 69 KiB
               dq=Tile(64, 32, 8, 3)),    # 145 / 205, 80 KiB
}


def default_tiles(head_dim: int) -> Tiles:
    """The tiles for ``head_dim`` (see the module docstring); head dims above 128 are refused."""
    for largest, tiles in sorted(_TILES.items()):
        if head_dim <= largest:
            return tiles
    raise ValueError(f"head dim {head_dim} > {max(_TILES)}: no tile fits the Triton kernels")


@triton.jit
def _key_range(START, END, b, m0, m_last, seq_len, window,
               HAS_DOCS: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr,
               BLOCK_N: tl.constexpr):
    """Half-open range of key positions that queries m0..m_last may see, block aligned."""
    lo = 0
    hi = seq_len
    if HAS_DOCS:
        lo = tl.load(START + b * seq_len + m0)
        hi = tl.load(END + b * seq_len + m_last)
    if CAUSAL:
        hi = tl.minimum(hi, m_last + 1)
    if HAS_WINDOW:
        lo = tl.maximum(lo, m0 - window + 1)
        if not CAUSAL:
            hi = tl.minimum(hi, m_last + window)
    lo = (lo // BLOCK_N) * BLOCK_N
    return lo, hi


@triton.jit
def _query_range(START, END, b, n0, n_last, seq_len, window,
                 HAS_DOCS: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr,
                 BLOCK_M: tl.constexpr):
    """Half-open range of query positions that may see keys n0..n_last, block aligned."""
    lo = 0
    hi = seq_len
    if HAS_DOCS:
        lo = tl.load(START + b * seq_len + n0)
        hi = tl.load(END + b * seq_len + n_last)
    if CAUSAL:
        lo = tl.maximum(lo, n0)
    if HAS_WINDOW:
        hi = tl.minimum(hi, n_last + window)
        if not CAUSAL:
            lo = tl.maximum(lo, n0 - window + 1)
    lo = (lo // BLOCK_M) * BLOCK_M
    return lo, hi


@triton.jit
def _query_docs(START, END, b, offs_m, seq_len, HAS_DOCS: tl.constexpr):
    """Document run bounds ``(start, end)`` of each query in offs_m (offs_m itself, unread,
    without documents)."""
    if HAS_DOCS:
        mask = offs_m < seq_len
        return (tl.load(START + b * seq_len + offs_m, mask=mask, other=0),
                tl.load(END + b * seq_len + offs_m, mask=mask, other=0))
    return offs_m, offs_m


@triton.jit
def _visible(offs_m, offs_n, start_m, end_m, seq_len, window,
             HAS_DOCS: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr):
    """(BLOCK_M, BLOCK_N) boolean: query offs_m[i] may attend to key offs_n[j]."""
    qi = offs_m[:, None]
    kj = offs_n[None, :]
    ok = (qi < seq_len) & (kj < seq_len)
    if HAS_DOCS:
        ok = ok & (kj >= start_m[:, None]) & (kj < end_m[:, None])
    if CAUSAL:
        ok = ok & (kj <= qi)
    if HAS_WINDOW:
        ok = ok & (qi - kj < window)
        if not CAUSAL:
            ok = ok & (kj - qi < window)
    return ok


@triton.jit
def _rows(PTR, b, h, stride_b, stride_h, stride_t, rows, cols):
    """Pointers to ``rows`` x ``cols`` of head ``h`` of batch row ``b`` of a (B, H, T, D)
    tensor with unit stride on D."""
    return PTR + b.to(tl.int64) * stride_b + h * stride_h + rows[:, None] * stride_t + cols[None, :]


@triton.jit
def _in_bounds(rows, cols, seq_len, head_dim):
    """(rows, cols) mask of the positions inside a (T, D) head."""
    return (rows[:, None] < seq_len) & (cols[None, :] < head_dim)


@triton.jit
def _attn_fwd_kernel(
    Q, K, V, OUT, LSE, START, END,
    stride_qb, stride_qh, stride_qt,
    stride_kb, stride_kh, stride_kt,
    stride_vb, stride_vh, stride_vt,
    n_heads, group, seq_len, head_dim, window, qk_scale,
    HAS_DOCS: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    IEEE_DOT: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // n_heads
    h = pid_bh % n_heads
    hk = h // group
    m0 = pid_m * BLOCK_M
    m_last = tl.minimum(m0 + BLOCK_M, seq_len) - 1
    offs_m = m0 + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    qmask = _in_bounds(offs_m, offs_d, seq_len, head_dim)
    q = tl.load(_rows(Q, b, h, stride_qb, stride_qh, stride_qt, offs_m, offs_d), mask=qmask,
                other=0.0)
    start_m, end_m = _query_docs(START, END, b, offs_m, seq_len, HAS_DOCS)
    lo, hi = _key_range(START, END, b, m0, m_last, seq_len, window,
                        HAS_DOCS, CAUSAL, HAS_WINDOW, BLOCK_N)

    m_i = tl.full([BLOCK_M], -1.0e30, tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    for n0 in range(lo, hi, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        kv_mask = _in_bounds(offs_n, offs_d, seq_len, head_dim)
        k = tl.load(_rows(K, b, hk, stride_kb, stride_kh, stride_kt, offs_n, offs_d),
                    mask=kv_mask, other=0.0)
        v = tl.load(_rows(V, b, hk, stride_vb, stride_vh, stride_vt, offs_n, offs_d),
                    mask=kv_mask, other=0.0)
        s = dot(q, tl.trans(k), IEEE_DOT) * qk_scale
        ok = _visible(offs_m, offs_n, start_m, end_m, seq_len, window,
                      HAS_DOCS, CAUSAL, HAS_WINDOW)
        s = tl.where(ok, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        alpha = tl.exp2(m_i - m_new)
        p = tl.exp2(s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None] + dot(p.to(v.dtype), v, IEEE_DOT)
        m_i = m_new
    l_safe = tl.where(l_i > 0, l_i, 1.0)
    out = acc / l_safe[:, None]
    tl.store(_rows(OUT, b, h, stride_qb, stride_qh, stride_qt, offs_m, offs_d),
             out.to(OUT.dtype.element_ty), mask=qmask)
    tl.store(LSE + pid_bh.to(tl.int64) * seq_len + offs_m, m_i + tl.log2(l_safe),
             mask=offs_m < seq_len)


@triton.jit
def _attn_bwd_delta_kernel(
    OUT, DO, DELTA,
    stride_ob, stride_oh, stride_ot,
    stride_dob, stride_doh, stride_dot,
    n_heads, seq_len, head_dim,
    BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // n_heads
    h = pid_bh % n_heads
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mask = _in_bounds(offs_m, offs_d, seq_len, head_dim)
    o = tl.load(_rows(OUT, b, h, stride_ob, stride_oh, stride_ot, offs_m, offs_d), mask=mask,
                other=0.0).to(tl.float32)
    do = tl.load(_rows(DO, b, h, stride_dob, stride_doh, stride_dot, offs_m, offs_d), mask=mask,
                 other=0.0).to(tl.float32)
    tl.store(DELTA + pid_bh.to(tl.int64) * seq_len + offs_m, tl.sum(o * do, 1),
             mask=offs_m < seq_len)


@triton.jit
def _attn_bwd_dkdv_kernel(
    Q, K, V, DO, LSE, DELTA, DK, DV, START, END,
    stride_qb, stride_qh, stride_qt,
    stride_kb, stride_kh, stride_kt,
    stride_vb, stride_vh, stride_vt,
    stride_dob, stride_doh, stride_dot,
    n_heads, n_kv_heads, group, seq_len, head_dim, window, qk_scale, scale,
    HAS_DOCS: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    IEEE_DOT: tl.constexpr,
):
    pid_n = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // n_kv_heads
    hk = pid_bh % n_kv_heads
    n0 = pid_n * BLOCK_N
    n_last = tl.minimum(n0 + BLOCK_N, seq_len) - 1
    offs_n = n0 + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    kv_mask = _in_bounds(offs_n, offs_d, seq_len, head_dim)
    k_ptrs = _rows(K, b, hk, stride_kb, stride_kh, stride_kt, offs_n, offs_d)
    v_ptrs = _rows(V, b, hk, stride_vb, stride_vh, stride_vt, offs_n, offs_d)
    k = tl.load(k_ptrs, mask=kv_mask, other=0.0)
    v = tl.load(v_ptrs, mask=kv_mask, other=0.0)
    lo, hi = _query_range(START, END, b, n0, n_last, seq_len, window,
                          HAS_DOCS, CAUSAL, HAS_WINDOW, BLOCK_M)

    dk = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    for g in range(group):
        h = hk * group + g
        row_base = (b * n_heads + h).to(tl.int64) * seq_len
        for m0 in range(lo, hi, BLOCK_M):
            offs_m = m0 + tl.arange(0, BLOCK_M)
            mask_m = offs_m < seq_len
            qmask = _in_bounds(offs_m, offs_d, seq_len, head_dim)
            q = tl.load(_rows(Q, b, h, stride_qb, stride_qh, stride_qt, offs_m, offs_d),
                        mask=qmask, other=0.0)
            do = tl.load(_rows(DO, b, h, stride_dob, stride_doh, stride_dot, offs_m, offs_d),
                         mask=qmask, other=0.0)
            lse = tl.load(LSE + row_base + offs_m, mask=mask_m, other=0.0)
            delta = tl.load(DELTA + row_base + offs_m, mask=mask_m, other=0.0)
            start_m, end_m = _query_docs(START, END, b, offs_m, seq_len, HAS_DOCS)
            ok = _visible(offs_m, offs_n, start_m, end_m, seq_len, window,
                          HAS_DOCS, CAUSAL, HAS_WINDOW)
            s = dot(q, tl.trans(k), IEEE_DOT) * qk_scale
            p = tl.exp2(tl.where(ok, s - lse[:, None], float("-inf")))  # (BLOCK_M, BLOCK_N)
            dv += dot(tl.trans(p.to(do.dtype)), do, IEEE_DOT)
            dp = dot(do, tl.trans(v), IEEE_DOT)
            ds = p * (dp - delta[:, None])
            dk += dot(tl.trans(ds.to(q.dtype)), q, IEEE_DOT)
    tl.store(_rows(DK, b, hk, stride_kb, stride_kh, stride_kt, offs_n, offs_d),
             (dk * scale).to(DK.dtype.element_ty), mask=kv_mask)
    tl.store(_rows(DV, b, hk, stride_vb, stride_vh, stride_vt, offs_n, offs_d),
             dv.to(DV.dtype.element_ty), mask=kv_mask)


@triton.jit
def _attn_bwd_dq_kernel(
    Q, K, V, DO, LSE, DELTA, DQ, START, END,
    stride_qb, stride_qh, stride_qt,
    stride_kb, stride_kh, stride_kt,
    stride_vb, stride_vh, stride_vt,
    stride_dob, stride_doh, stride_dot,
    n_heads, group, seq_len, head_dim, window, qk_scale, scale,
    HAS_DOCS: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    IEEE_DOT: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // n_heads
    h = pid_bh % n_heads
    hk = h // group
    m0 = pid_m * BLOCK_M
    m_last = tl.minimum(m0 + BLOCK_M, seq_len) - 1
    offs_m = m0 + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mask_m = offs_m < seq_len
    qmask = _in_bounds(offs_m, offs_d, seq_len, head_dim)
    q = tl.load(_rows(Q, b, h, stride_qb, stride_qh, stride_qt, offs_m, offs_d), mask=qmask,
                other=0.0)
    do = tl.load(_rows(DO, b, h, stride_dob, stride_doh, stride_dot, offs_m, offs_d),
                 mask=qmask, other=0.0)
    lse = tl.load(LSE + pid_bh.to(tl.int64) * seq_len + offs_m, mask=mask_m, other=0.0)
    delta = tl.load(DELTA + pid_bh.to(tl.int64) * seq_len + offs_m, mask=mask_m, other=0.0)
    start_m, end_m = _query_docs(START, END, b, offs_m, seq_len, HAS_DOCS)
    lo, hi = _key_range(START, END, b, m0, m_last, seq_len, window,
                        HAS_DOCS, CAUSAL, HAS_WINDOW, BLOCK_N)

    dq = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    for n0 in range(lo, hi, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        kv_mask = _in_bounds(offs_n, offs_d, seq_len, head_dim)
        k = tl.load(_rows(K, b, hk, stride_kb, stride_kh, stride_kt, offs_n, offs_d),
                    mask=kv_mask, other=0.0)
        v = tl.load(_rows(V, b, hk, stride_vb, stride_vh, stride_vt, offs_n, offs_d),
                    mask=kv_mask, other=0.0)
        ok = _visible(offs_m, offs_n, start_m, end_m, seq_len, window,
                      HAS_DOCS, CAUSAL, HAS_WINDOW)
        s = dot(q, tl.trans(k), IEEE_DOT) * qk_scale
        p = tl.exp2(tl.where(ok, s - lse[:, None], float("-inf")))
        dp = dot(do, tl.trans(v), IEEE_DOT)
        ds = p * (dp - delta[:, None])
        dq += dot(ds.to(k.dtype), k, IEEE_DOT)
    tl.store(_rows(DQ, b, h, stride_qb, stride_qh, stride_qt, offs_m, offs_d),
             (dq * scale).to(DQ.dtype.element_ty), mask=qmask)


def doc_bounds(doc_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token document run bounds of packed rows (no host synchronisation).

    doc_ids: (B, T) integer, each document a contiguous run of equal ids. Returns
    ``(start, end)``, both (B, T) int32: token i of row b belongs to the run
    ``[start[b, i], end[b, i])``.
    """
    _, t = doc_ids.shape
    pos = torch.arange(t, device=doc_ids.device)
    new = torch.ones_like(doc_ids, dtype=torch.bool)
    new[:, 1:] = doc_ids[:, 1:] != doc_ids[:, :-1]
    last = torch.ones_like(new)
    last[:, :-1] = new[:, 1:]
    start = torch.where(new, pos, 0).cummax(dim=1).values
    end = torch.where(last, pos + 1, t).flip(1).cummin(dim=1).values.flip(1)
    return start.to(torch.int32).contiguous(), end.to(torch.int32).contiguous()


def _unit_last(x: torch.Tensor) -> torch.Tensor:
    return x if x.stride(-1) == 1 else x.contiguous()


class _FlashAttention(torch.autograd.Function):
    """Autograd wrapper: forward saves (q, k, v, o, lse); backward runs the three passes."""

    @staticmethod
    def forward(ctx, q, k, v, start, end, window, causal, scale, tiles):
        b, n_heads, t, d = q.shape
        n_kv = k.shape[1]
        o = torch.empty_like(q)
        lse = torch.empty(b, n_heads, t, device=q.device, dtype=torch.float32)
        has_docs = start is not None
        bounds = (start, end) if has_docs else (lse, lse)  # unread dummies without documents
        grid = (triton.cdiv(t, tiles.fwd.block_m), b * n_heads)
        _attn_fwd_kernel[grid](
            q, k, v, o, lse, *bounds,
            q.stride(0), q.stride(1), q.stride(2),
            k.stride(0), k.stride(1), k.stride(2),
            v.stride(0), v.stride(1), v.stride(2),
            n_heads, n_heads // n_kv, t, d, window or 0, scale * LOG2E,
            HAS_DOCS=has_docs, CAUSAL=causal, HAS_WINDOW=window is not None,
            BLOCK_D=max(16, triton.next_power_of_2(d)), IEEE_DOT=ieee_dots(q.dtype),
            **tiles.fwd.launch(),
        )
        ctx.save_for_backward(q, k, v, o, lse, *((start, end) if has_docs else ()))
        ctx.conf = (has_docs, window, causal, scale, tiles)
        return o

    @staticmethod
    def backward(ctx, do):
        has_docs, window, causal, scale, tiles = ctx.conf
        q, k, v, o, lse, *doc = ctx.saved_tensors
        do = _unit_last(do)
        b, n_heads, t, d = q.shape
        n_kv = k.shape[1]
        group = n_heads // n_kv
        block_d = max(16, triton.next_power_of_2(d))
        bounds = tuple(doc) if has_docs else (lse, lse)
        flags = dict(HAS_DOCS=has_docs, CAUSAL=causal, HAS_WINDOW=window is not None,
                     IEEE_DOT=ieee_dots(q.dtype))
        delta = torch.empty_like(lse)
        _attn_bwd_delta_kernel[(triton.cdiv(t, tiles.dq.block_m), b * n_heads)](
            o, do, delta, o.stride(0), o.stride(1), o.stride(2),
            do.stride(0), do.stride(1), do.stride(2), n_heads, t, d,
            BLOCK_M=tiles.dq.block_m, BLOCK_D=block_d,
        )
        strides = (
            q.stride(0), q.stride(1), q.stride(2),
            k.stride(0), k.stride(1), k.stride(2),
            v.stride(0), v.stride(1), v.stride(2),
            do.stride(0), do.stride(1), do.stride(2),
        )
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        _attn_bwd_dkdv_kernel[(triton.cdiv(t, tiles.dkdv.block_n), b * n_kv)](
            q, k, v, do, lse, delta, dk, dv, *bounds, *strides,
            n_heads, n_kv, group, t, d, window or 0, scale * LOG2E, scale, **flags,
            BLOCK_D=block_d, **tiles.dkdv.launch(),
        )
        _attn_bwd_dq_kernel[(triton.cdiv(t, tiles.dq.block_m), b * n_heads)](
            q, k, v, do, lse, delta, dq, *bounds, *strides,
            n_heads, group, t, d, window or 0, scale * LOG2E, scale, **flags,
            BLOCK_D=block_d, **tiles.dq.launch(),
        )
        return dq, dk, dv, None, None, None, None, None, None


def flash_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    doc_ids: torch.Tensor | None = None,
    window: int | None = None,
    causal: bool = True,
    scale: float | None = None,
    block_m: int | None = None,
    block_n: int | None = None,
) -> torch.Tensor:
    """Triton attention (see the module docstring).

    q: (B, H, T, D); k, v: (B, Hkv, T, D); doc_ids: (B, T) contiguous runs or None; window:
    tokens or None; block_m / block_n: queries / keys per block of every pass (the other one
    64 when only one is given; 4 warps), else `default_tiles` of D. Returns (B, H, T, D) in
    the operands' dtype (the autocast dtype under autocast, see `matmul_operands`).
    """
    if q.dim() != 4 or k.shape != v.shape or k.shape[0] != q.shape[0] or k.shape[2:] != q.shape[2:]:
        raise ValueError(f"shapes q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")
    if q.shape[1] % k.shape[1]:
        raise ValueError(f"{q.shape[1]} query heads is not a multiple of {k.shape[1]} kv heads")
    if window is not None and window < 1:
        raise ValueError(f"window must be >= 1 token, got {window}")
    q, k, v = matmul_operands(q, k, v)
    if block_m is None and block_n is None:
        tiles = default_tiles(q.shape[-1])
    else:
        tiles = Tiles.uniform(block_m or 64, block_n or 64)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    start = end = None
    if doc_ids is not None:
        if doc_ids.shape != (q.shape[0], q.shape[2]):
            raise ValueError(f"doc_ids {tuple(doc_ids.shape)} for q {tuple(q.shape)}")
        start, end = doc_bounds(doc_ids)
    return _FlashAttention.apply(
        _unit_last(q), _unit_last(k), _unit_last(v), start, end, window, causal, scale, tiles
    )


def attention_triton(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    doc_ids: torch.Tensor | None = None,
    window: int | None = None,
    causal: bool = True,
    scale: float | None = None,
) -> torch.Tensor:
    """`flash_attention` with the default tiles: the signature of `attention_torch`."""
    return flash_attention(q, k, v, doc_ids=doc_ids, window=window, causal=causal, scale=scale)
