"""Benchmark of the Triton kernels against their torch peers, checking each result as it goes.

    python -m train.kernels.bench                     # all three, default shapes, CUDA, bf16
    python -m train.kernels.bench --only attention --seq 8192 --heads 16 --kv-heads 4
    TRITON_INTERPRET=1 python -m train.kernels.bench --device cpu --seq 64 --heads 2 \\
        --kv-heads 1 --head-dim 16 --window 8 --tokens 32 --moe-dim 32 --moe-hidden 16 \\
        --experts 4 --top-k 2 --vocab 100         # smoke test: interpreter, fp32, tiny shapes

Every case runs forward + backward of ours and of the peer once with the same inputs and the
same random output gradient, and prints the max abs difference of the outputs and of the
gradients (ours minus peer), so a GPU run also validates the compiled kernels in bf16.

- attention: forward + backward milliseconds and TFLOP/s of `flash_attention` (causal, GQA)
  for plain causal attention vs torch SDPA (``is_causal=True, enable_gqa=True``; SDPA picks
  its flash backend), and for packed documents (``--seq`` cut into 8 documents) and a sliding
  window (``--window`` tokens, the query included) vs FlexAttention with a block mask for
  causal, same-document and ``q - kv < window`` (built once, outside the timing; on CUDA
  `flex_attention` runs under `torch.compile`). Where FlexAttention cannot run backward (on
  the CPU) those two cases compare with `train.attention.attention_torch` (SDPA with an
  explicit mask), and their outputs also with eager FlexAttention. FLOPs count only the
  visible (query, key) pairs' matmuls: ``4 D pairs`` forward, 2.5 times that backward, for
  ours and the peer alike.
- moe: the routed-expert layer (`moe_experts_triton` vs `moe_experts_torch`), by default at
  a Qwen3-30B-A3B-like expert shape on one GPU: d=2048, expert hidden 768, 128 experts,
  top-8, 8192 tokens, routed by a random router; forward and forward + backward milliseconds
  and TFLOP/s (``2 N k 3 d hidden`` forward, 3 times that for forward + backward).
- ce: the fused cross-entropy (soft-cap 30, z-loss 1e-4) vs `cross_entropy_torch` at a
  151,936-entry vocabulary by default: forward + backward milliseconds, and on CUDA the peak
  memory allocated beyond the inputs (GiB).

``--device cuda`` (the default) times with `triton.testing.do_bench` in bf16 and exits with
status 1 when there is no GPU. ``--device cpu`` is a smoke test: it needs ``TRITON_INTERPRET=1``
in the environment (the interpreter is chosen when `train.kernels` is imported, before this
module runs), computes in fp32 and times ``--reps`` calls with `time.perf_counter` after one
warm-up call; its timings measure the interpreter, not the kernels.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence

import torch

SOFTCAP, Z_COEF = 30.0, 1e-4


def _bench_ms(fn: Callable[[], object], device: str, reps: int) -> float:
    """Milliseconds per call: do_bench on CUDA, the median of `reps` timed calls on the CPU."""
    if device == "cuda":
        from triton.testing import do_bench

        return float(do_bench(fn, warmup=5, rep=30))
    fn()  # warm-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def _fwd_bwd(
    fn: Callable[[], torch.Tensor], leaves: Sequence[torch.Tensor], grad: torch.Tensor | None
) -> Callable[[], None]:
    """One forward + backward step of `fn` with output gradient `grad` (None for a scalar)."""

    def step() -> None:
        for t in leaves:
            t.grad = None
        fn().backward(grad)

    return step


def _results(
    fn: Callable[[], torch.Tensor], leaves: Sequence[torch.Tensor], grad: torch.Tensor | None
) -> list[torch.Tensor]:
    """The output of `fn` and the gradients of `leaves` after backward with `grad`."""
    for t in leaves:
        t.grad = None
    out = fn()
    out.backward(grad)
    res = [out.detach().clone()] + [t.grad.clone() for t in leaves]
    for t in leaves:
        t.grad = None
    return res


def _maxes(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> str:
    """``name max|t|`` for each tensor (in fp32), space-separated."""
    return " ".join(f"{n} {t.float().abs().max().item():.1e}"
                    for n, t in zip(names, tensors, strict=True))


def print_diffs(peer: str, names: Sequence[str], ours: Sequence[torch.Tensor],
                theirs: Sequence[torch.Tensor]) -> None:
    """Print the max abs difference of each of our tensors from the peer's, and beneath it the
    peer's max abs value (the scale to read the difference against)."""
    label = f"max |triton - {peer}|:"
    diffs = [a.float() - b.float() for a, b in zip(ours, theirs, strict=True)]
    print(f"    {label} {_maxes(names, diffs)}")
    print(f"    {f'max |{peer}|:':{len(label)}s} {_maxes(names, theirs)}")


def visible_pairs(t: int, doc_lengths: list[int] | None, window: int | None) -> int:
    """Causal (query, key) pairs within documents and the window."""
    total = 0
    for n in doc_lengths or [t]:
        w = n if window is None else min(window, n)
        total += w * (w + 1) // 2 + (n - w) * w  # the first w rows grow, the rest see w keys
    return total


def _flex(device: str) -> tuple[Callable | None, Callable | None, str]:
    """FlexAttention on `device`: (flex_attention, compiled on CUDA; create_block_mask; why it
    cannot run backward there, "" if it can), or (None, None, why it is missing)."""
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    except ImportError as e:
        return None, None, f"cannot import it ({e})"
    if device == "cuda":
        return torch.compile(flex_attention, dynamic=False), create_block_mask, ""
    warnings.filterwarnings("ignore", "flex_attention called without torch.compile")  # eager
    x = torch.zeros(1, 1, 16, 16, device=device, requires_grad=True)
    try:  # eager flex: torch 2.13 refuses inputs that need a gradient on the CPU
        flex_attention(x, x, x).sum().backward()
    except RuntimeError as e:  # torch raises NotImplementedError, a RuntimeError
        return flex_attention, create_block_mask, str(e).split(".")[0]
    return flex_attention, create_block_mask, ""


def bench_attention(args: argparse.Namespace) -> None:
    """Causal, packed-documents and sliding-window attention: ms, TFLOP/s, max differences."""
    import torch.nn.functional as F

    from train.attention import attention_torch
    from train.kernels.attention import flash_attention

    b, h, hkv, t, d = args.batch, args.heads, args.kv_heads, args.seq, args.head_dim
    dev, dt = args.device, args.dtype
    g = torch.Generator(device=dev).manual_seed(0)
    q, k, v = (torch.randn(b, n, t, d, device=dev, dtype=dt, generator=g).requires_grad_(True)
               for n in (h, hkv, hkv))
    grad = torch.randn(b, h, t, d, device=dev, dtype=dt, generator=g)
    n_docs = min(8, t)
    doc_lengths = [t // n_docs + (i < t % n_docs) for i in range(n_docs)]
    doc_ids = torch.repeat_interleave(
        torch.arange(n_docs, device=dev), torch.tensor(doc_lengths, device=dev)
    )[None].expand(b, t).contiguous()
    flex, block_mask_of, why = _flex(dev)
    print(f"attention: B={b} H={h} Hkv={hkv} T={t} D={d} {args.dtype_name} on {dev}, "
          "forward + backward")
    if why:
        print(f"  (FlexAttention unusable here: {why}; documents and window compare with "
              "attention_torch" + (", and with flex forward only)" if flex else ")"))

    def flex_call(docs: torch.Tensor | None, window: int | None,
                  qkv: Sequence[torch.Tensor] = (q, k, v)) -> Callable[[], torch.Tensor]:
        def mask_mod(bi, hi, qi, ki):
            keep = qi >= ki
            if docs is not None:
                keep = keep & (docs[bi, qi] == docs[bi, ki])
            if window is not None:
                keep = keep & (qi - ki < window)
            return keep

        mask = block_mask_of(mask_mod, b, None, t, t, device=dev)  # once, outside the timing
        return lambda: flex(*qkv, block_mask=mask, enable_gqa=True)

    def peer_for(docs: torch.Tensor | None, window: int | None) -> tuple[str, Callable]:
        if docs is None and window is None:
            return "SDPA", lambda: F.scaled_dot_product_attention(
                q, k, v, is_causal=True, enable_gqa=True)
        if flex is None or why:
            return "torch", lambda: attention_torch(q, k, v, doc_ids=docs, window=window)
        return "flex", flex_call(docs, window)

    cases = [
        ("causal", None, None),
        (f"causal, {n_docs} documents", doc_ids, None),
        (f"causal, window {args.window}", None, args.window),
    ]
    names = ("out", "dq", "dk", "dv")
    for name, docs, window in cases:
        lengths = doc_lengths if docs is not None else None
        flops = 4 * d * visible_pairs(t, lengths, window) * b * h * 3.5

        def ours(docs=docs, window=window) -> torch.Tensor:
            return flash_attention(q, k, v, doc_ids=docs, window=window)

        peer_name, peer = peer_for(docs, window)
        ours_res = _results(ours, [q, k, v], grad)
        peer_res = _results(peer, [q, k, v], grad)
        ours_ms = _bench_ms(_fwd_bwd(ours, [q, k, v], grad), dev, args.reps)
        peer_ms = _bench_ms(_fwd_bwd(peer, [q, k, v], grad), dev, args.reps)
        print(f"  {name:24s} triton {ours_ms:9.2f} ms {flops / ours_ms / 1e9:8.3g} TFLOP/s | "
              f"{peer_name:5s} {peer_ms:9.2f} ms {flops / peer_ms / 1e9:8.3g} TFLOP/s")
        print_diffs(peer_name, names, ours_res, peer_res)
        if peer_name == "torch" and flex is not None:
            out = flex_call(docs, window, [x.detach() for x in (q, k, v)])()
            print_diffs("flex", names[:1], ours_res[:1], [out])


def bench_moe(args: argparse.Namespace) -> None:
    """Routed experts: forward and forward + backward ms and TFLOP/s, max differences."""
    from train.kernels.moe import moe_experts_triton
    from train.moe import moe_experts_torch

    n, d, hidden, n_exp, k = args.tokens, args.moe_dim, args.moe_hidden, args.experts, args.top_k
    dev, dt = args.device, args.dtype
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
    grad = torch.randn(n, d, device=dev, dtype=dt, generator=g)
    flops = 2 * n * k * 3 * d * hidden
    print(f"moe experts: N={n} d={d} hidden={hidden} E={n_exp} top-{k} {args.dtype_name} on {dev}")
    leaves = [x, weight, w1, w3, w2]
    results = []
    for name, fn in (("triton", moe_experts_triton), ("torch", moe_experts_torch)):
        def call(fn=fn) -> torch.Tensor:
            return fn(x, expert_idx, weight, w1, w3, w2)

        results.append(_results(call, leaves, grad))
        with torch.no_grad():
            fwd = _bench_ms(call, dev, args.reps)
        both = _bench_ms(_fwd_bwd(call, leaves, grad), dev, args.reps)
        print(f"  {name:7s} forward {fwd:9.2f} ms ({flops / fwd / 1e9:8.3g} TFLOP/s) | "
              f"forward + backward {both:9.2f} ms ({3 * flops / both / 1e9:8.3g} TFLOP/s)")
    names = ("out", "dx", "dweight", "dw1", "dw3", "dw2")
    print_diffs("torch", names, *results)


def bench_ce(args: argparse.Namespace) -> None:
    """Cross-entropy forward + backward: ms, peak memory (GiB, CUDA), max differences."""
    from train.kernels.cross_entropy import cross_entropy_torch, fused_cross_entropy

    n, vocab, dev = args.tokens, args.vocab, args.device
    g = torch.Generator(device=dev).manual_seed(0)
    logits = torch.randn(n, vocab, device=dev, dtype=args.dtype, generator=g)
    logits.requires_grad_(True)
    labels = torch.randint(0, vocab, (n,), device=dev, generator=g)
    print(f"cross-entropy: N={n} V={vocab} {args.dtype_name} logits on {dev}, "
          f"soft-cap {SOFTCAP:g}, z-loss {Z_COEF:g}")
    results = []
    for name, fn in (("triton", fused_cross_entropy), ("torch", cross_entropy_torch)):
        def loss(fn=fn) -> torch.Tensor:
            ce, z = fn(logits, labels, softcap=SOFTCAP)
            return ce + Z_COEF * z

        with torch.no_grad():
            ce_z = fn(logits, labels, softcap=SOFTCAP)
        results.append([*ce_z, _results(loss, [logits], None)[1]])
        if dev == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        ms = _bench_ms(_fwd_bwd(loss, [logits], None), dev, args.reps)
        line = f"  {name:7s} forward + backward {ms:9.2f} ms"
        if dev == "cuda":
            peak = (torch.cuda.max_memory_allocated() - base) / 2**30
            line += f", peak extra memory {peak:6.2f} GiB"
        print(line)
    print_diffs("torch", ("ce", "z", "dlogits"), *results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("attention", "moe", "ce"), default=None)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="cuda: bf16, do_bench; cpu: fp32 smoke test, TRITON_INTERPRET=1")
    parser.add_argument("--reps", type=int, default=3, help="timed calls per case on the cpu")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seq", type=int, default=8192, help="attention tokens per row")
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=128)
    parser.add_argument("--window", type=int, default=4096, help="tokens, the query included")
    parser.add_argument("--tokens", type=int, default=8192, help="tokens for moe and ce")
    parser.add_argument("--moe-dim", type=int, default=2048, help="model dimension d")
    parser.add_argument("--moe-hidden", type=int, default=768, help="expert hidden size")
    parser.add_argument("--experts", type=int, default=128)
    parser.add_argument("--top-k", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=151936)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("train.kernels.bench needs a CUDA GPU (none found); the kernels' CPU tests run "
              "them under TRITON_INTERPRET=1 instead: pytest -m triton", file=sys.stderr)
        return 1
    interpret = os.environ.get("TRITON_INTERPRET", "") not in ("", "0")
    if args.device == "cpu" and not interpret:
        print("--device cpu runs the kernels in Triton's interpreter, which is chosen when "
              "train.kernels is imported: set it in the environment, e.g. TRITON_INTERPRET=1 "
              "python -m train.kernels.bench --device cpu ...", file=sys.stderr)
        return 1
    if args.device == "cuda" and interpret:
        print("TRITON_INTERPRET is set: the CUDA timings would measure the interpreter; "
              "unset it (or use --device cpu)", file=sys.stderr)
        return 1
    args.dtype, args.dtype_name = (
        (torch.bfloat16, "bf16") if args.device == "cuda" else (torch.float32, "fp32")
    )
    torch.manual_seed(0)
    benches = {"attention": bench_attention, "moe": bench_moe, "ce": bench_ce}
    for name, fn in benches.items():
        if args.only in (None, name):
            fn(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
