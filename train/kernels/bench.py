"""GPU benchmark of the Triton kernels against their torch counterparts (CUDA only).

    python -m train.kernels.bench                     # all three, default shapes
    python -m train.kernels.bench --only attention --seq 8192 --heads 16 --kv-heads 4

- attention: forward + backward TFLOP/s of `flash_attention` vs torch SDPA at sequence 8192
  (bf16, causal, GQA), for plain causal attention (SDPA picks its flash backend), packed
  documents (SDPA needs an explicit mask) and a sliding window. FLOPs count only the visible
  (query, key) pairs' matmuls: ``4 D pairs`` forward, 2.5 times that backward.
- moe: the routed-expert layer (`moe_experts_triton` vs `moe_experts_torch`) at a
  Qwen3-30B-A3B-like expert shape on one GPU: d=2048, expert hidden 768, 128 experts, top-8,
  8192 tokens, bf16, routed by a random router; forward and forward + backward milliseconds.
- ce: the fused cross-entropy (soft-capped, z-loss) vs the torch path at a 151,936-entry
  vocabulary, milliseconds and peak memory.

Without CUDA it exits with status 1 and says so (the kernels' CPU tests use the interpreter).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import torch


def _bench_ms(fn: Callable[[], object]) -> float:
    from triton.testing import do_bench

    return float(do_bench(fn, warmup=5, rep=30))


def _fwd_bwd(fn: Callable[[], torch.Tensor], leaves: list[torch.Tensor]) -> Callable[[], None]:
    def step() -> None:
        for t in leaves:
            t.grad = None
        out = fn()
        out.backward(torch.ones_like(out) if out.dim() else None)

    return step


def visible_pairs(t: int, doc_lengths: list[int] | None, window: int | None) -> int:
    """Causal (query, key) pairs within documents and the window."""
    total = 0
    for n in doc_lengths or [t]:
        w = n if window is None else min(window, n)
        total += w * (w + 1) // 2 + (n - w) * w  # the first w rows grow, the rest see w keys
    return total


def bench_attention(args: argparse.Namespace) -> None:
    import torch.nn.functional as F

    from train.attention import attention_torch
    from train.kernels.attention import flash_attention

    b, h, hkv, t, d = args.batch, args.heads, args.kv_heads, args.seq, args.head_dim
    dev, dt = "cuda", torch.bfloat16
    q = torch.randn(b, h, t, d, device=dev, dtype=dt, requires_grad=True)
    k = torch.randn(b, hkv, t, d, device=dev, dtype=dt, requires_grad=True)
    v = torch.randn(b, hkv, t, d, device=dev, dtype=dt, requires_grad=True)
    doc_lengths = [t // 8] * 8
    doc_ids = torch.repeat_interleave(
        torch.arange(8, device=dev), torch.tensor(doc_lengths, device=dev)
    )[None].expand(b, t)
    print(f"attention: B={b} H={h} Hkv={hkv} T={t} D={d} bf16, forward + backward")
    cases = [
        ("causal", None, None),
        (f"causal, {len(doc_lengths)} documents", doc_ids, None),
        (f"causal, window {args.window}", None, args.window),
    ]
    for name, docs, window in cases:
        lengths = doc_lengths if docs is not None else None
        flops = 4 * d * visible_pairs(t, lengths, window) * b * h * 3.5
        ours = _bench_ms(_fwd_bwd(lambda docs=docs, window=window: flash_attention(
            q, k, v, doc_ids=docs, window=window), [q, k, v]))
        if docs is None and window is None:
            def ref() -> torch.Tensor:
                return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        else:
            def ref(docs=docs, window=window) -> torch.Tensor:
                return attention_torch(q, k, v, doc_ids=docs, window=window)
        theirs = _bench_ms(_fwd_bwd(ref, [q, k, v]))
        print(f"  {name:28s} triton {ours:8.2f} ms {flops / ours / 1e9:7.1f} TFLOP/s | "
              f"SDPA {theirs:8.2f} ms {flops / theirs / 1e9:7.1f} TFLOP/s")


def bench_moe(args: argparse.Namespace) -> None:
    from train.kernels.moe import moe_experts_triton
    from train.moe import moe_experts_torch

    n, d, hidden, n_exp, k = args.tokens, 2048, 768, 128, 8
    dev, dt = "cuda", torch.bfloat16
    g = torch.Generator(device=dev).manual_seed(0)
    x = torch.randn(n, d, device=dev, dtype=dt, generator=g).requires_grad_(True)
    scores = torch.randn(n, n_exp, device=dev, generator=g).softmax(-1)
    weight, expert_idx = scores.topk(k, dim=-1)
    weight = (weight / weight.sum(-1, keepdim=True)).to(dt).requires_grad_(True)
    w1, w3 = (
        (torch.randn(n_exp, hidden, d, device=dev, dtype=dt, generator=g) / d**0.5)
        .requires_grad_(True) for _ in range(2)
    )
    w2 = (torch.randn(n_exp, d, hidden, device=dev, dtype=dt, generator=g) / hidden**0.5)
    w2.requires_grad_(True)
    flops = 2 * n * k * 3 * d * hidden
    print(f"moe experts: N={n} d={d} hidden={hidden} E={n_exp} top-{k} bf16")
    leaves = [x, weight, w1, w3, w2]
    for name, fn in (("triton", moe_experts_triton), ("torch", moe_experts_torch)):
        def call(fn=fn) -> torch.Tensor:
            return fn(x, expert_idx, weight, w1, w3, w2)

        with torch.no_grad():
            fwd = _bench_ms(call)
        both = _bench_ms(_fwd_bwd(lambda call=call: call().float().sum(), leaves))
        print(f"  {name:7s} forward {fwd:8.2f} ms ({flops / fwd / 1e9:6.1f} TFLOP/s) | "
              f"forward + backward {both:8.2f} ms ({3 * flops / both / 1e9:6.1f} TFLOP/s)")


def bench_ce(args: argparse.Namespace) -> None:
    from train.kernels.cross_entropy import cross_entropy_torch, fused_cross_entropy

    n, vocab = args.tokens, 151936
    logits = torch.randn(n, vocab, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    labels = torch.randint(0, vocab, (n,), device="cuda")
    print(f"cross-entropy: N={n} V={vocab} bf16 logits, soft-cap 30, z-loss 1e-4")
    for name, fn in (("triton", fused_cross_entropy), ("torch", cross_entropy_torch)):
        def loss(fn=fn) -> torch.Tensor:
            ce, z = fn(logits, labels, softcap=30.0)
            return ce + 1e-4 * z

        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        ms = _bench_ms(_fwd_bwd(loss, [logits]))
        peak = (torch.cuda.max_memory_allocated() - base) / 2**30
        print(f"  {name:7s} forward + backward {ms:8.2f} ms, peak extra memory {peak:6.2f} GiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("attention", "moe", "ce"), default=None)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seq", type=int, default=8192)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=128)
    parser.add_argument("--window", type=int, default=4096)
    parser.add_argument("--tokens", type=int, default=8192, help="tokens for moe and ce")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("train.kernels.bench needs a CUDA GPU (none found); the kernels' CPU tests run "
              "them under TRITON_INTERPRET=1 instead: pytest -m triton", file=sys.stderr)
        return 1
    torch.manual_seed(0)
    benches = {"attention": bench_attention, "moe": bench_moe, "ce": bench_ce}
    for name, fn in benches.items():
        if args.only in (None, name):
            fn(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
