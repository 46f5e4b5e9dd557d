"""Compile the Triton kernels for NVIDIA GPUs ahead of time, on a machine without one.

    python -m train.kernels.compile_check                 # sm_80 and sm_90, bf16, every kernel
    python -m train.kernels.compile_check --arch 90 --only attention --head-dim 64
    python -m train.kernels.compile_check --arch 100      # Blackwell (ptxas-blackwell)

The CPU tests run the kernels in Triton's interpreter, which checks their arithmetic but not
that they compile: a construct the interpreter accepts can still fail in the compiler, or the
kernel can need more shared memory than the GPU has (Triton raises ``OutOfResources`` at the
first launch). This check closes that gap without a GPU:

1. `record_launches` replaces Triton's launcher with a recorder while the real wrappers
   (`flash_attention`, `moe_experts_grouped`, `fused_cross_entropy`) run forward and backward
   on CPU tensors of the GPU dtype: each launch they would make (kernel, arguments,
   constexprs, ``num_warps``) is captured, and nothing runs.
2. `compile_launch` binds each launch the way Triton's own launcher does and compiles it with
   Triton's compiler for the target architecture, through PTX to a cubin with the ``ptxas``
   that Triton ships. ptxas' resource report gives registers and spill bytes.
3. `check` flags a kernel that does not compile, needs more shared memory than the
   architecture allows per block (`SHARED_LIMIT`, bytes), or, when its inputs are 16-bit,
   has matrix products that do not use the tensor cores (``mma`` on sm_80, ``wgmma`` on
   sm_90, ``tcgen05.mma`` on sm_100 in the PTX). Register spills are reported, not failed:
   they cost speed, not correctness.

Needs ``TRITON_INTERPRET`` unset (interpreted kernels cannot be compiled); a GPU is neither
needed nor used. It relies on Triton internals of the pinned 3.7.1 (``JITFunction.run``,
``_pack_args``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import torch

SHARED_LIMIT = {80: 166_912, 86: 101_376, 89: 101_376, 90: 232_448, 100: 232_448}
"""Largest dynamic shared memory per block, bytes (CUDA occupancy tables, opt-in maximum)."""

TENSOR_CORE_OPS = ("tcgen05.mma", "wgmma", "mma")
"""PTX matrix instructions of sm_100, sm_90 and sm_80, most specific first."""

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


@dataclass
class Launch:
    """One kernel launch captured by `record_launches`: the JITFunction and its call."""

    kernel: object
    args: tuple
    kwargs: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.kernel.fn.__name__

    def constexprs(self) -> dict[str, object]:
        """The launch's constexpr arguments by name (what selects a kernel variant)."""
        params = self.kernel.params
        bound = dict(zip([p.name for p in params], self.args, strict=False)) | self.kwargs
        return {p.name: bound[p.name] for p in params if p.is_constexpr and p.name in bound}


@contextlib.contextmanager
def record_launches() -> Iterator[list[Launch]]:
    """Within the block, every ``kernel[grid](...)`` call is recorded instead of launched."""
    from triton.runtime.jit import JITFunction

    launches: list[Launch] = []
    original = JITFunction.run

    def record(self, *args, grid, warmup, **kwargs):
        launches.append(Launch(self, args, kwargs))

    JITFunction.run = record
    try:
        yield launches
    finally:
        JITFunction.run = original


def _backward(out: torch.Tensor | tuple[torch.Tensor, ...]) -> None:
    outs = out if isinstance(out, tuple) else (out,)
    torch.autograd.backward(outs, [torch.ones_like(o) for o in outs])


def trace(fn: Callable[[], object]) -> list[Launch]:
    """Launches made by ``fn()`` and by its backward pass, in launch order."""
    with record_launches() as launches:
        _backward(fn())
    return launches


def distinct(launches: list[Launch]) -> list[Launch]:
    """The first launch of each kernel variant (kernel and constexprs)."""
    seen: dict[tuple, Launch] = {}
    for launch in launches:
        key = (launch.name, tuple(sorted((k, repr(v)) for k, v in launch.constexprs().items())))
        seen.setdefault(key, launch)
    return list(seen.values())


def _leaf(*shape: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.zeros(shape, dtype=dtype).requires_grad_(True)


def attention_launches(dtype: torch.dtype, head_dim: int) -> list[Launch]:
    """Every attention variant the trainer uses: causal with and without documents and window."""
    from train.kernels.attention import flash_attention

    b, h, hkv, t = 1, 4, 2, 256
    doc_ids = torch.repeat_interleave(torch.arange(4), t // 4)[None]
    launches = []
    for docs, window in ((None, None), (doc_ids, None), (doc_ids, 64)):
        q = _leaf(b, h, t, head_dim, dtype=dtype)
        k, v = (_leaf(b, hkv, t, head_dim, dtype=dtype) for _ in range(2))
        launches += trace(lambda q=q, k=k, v=v, docs=docs, window=window: flash_attention(
            q, k, v, doc_ids=docs, window=window))
    return launches


def moe_launches(dtype: torch.dtype, dim: int = 2048, hidden: int = 768) -> list[Launch]:
    """The routed-expert layer forward and backward at a Qwen3-30B-A3B-like expert shape."""
    from train.kernels.moe import moe_experts_triton

    n, n_exp, top_k = 64, 8, 2
    x = _leaf(n, dim, dtype=dtype)
    expert_idx = torch.arange(n * top_k).reshape(n, top_k) % n_exp
    weight = _leaf(n, top_k, dtype=dtype)
    w1, w3 = (_leaf(n_exp, hidden, dim, dtype=dtype) for _ in range(2))
    w2 = _leaf(n_exp, dim, hidden, dtype=dtype)
    return trace(lambda: moe_experts_triton(x, expert_idx, weight, w1, w3, w2))


def ce_launches(dtype: torch.dtype, vocab: int = 151_936) -> list[Launch]:
    """The fused cross-entropy, with and without soft-capping."""
    from train.kernels.cross_entropy import fused_cross_entropy

    labels = torch.arange(32) % vocab
    launches = []
    for softcap in (0.0, 30.0):
        logits = _leaf(32, vocab, dtype=dtype)
        launches += trace(lambda logits=logits, softcap=softcap: fused_cross_entropy(
            logits, labels, softcap=softcap))
    return launches


FAMILIES: dict[str, Callable[[torch.dtype, int], list[Launch]]] = {
    "attention": attention_launches,
    "moe": lambda dtype, head_dim: moe_launches(dtype),
    "ce": lambda dtype, head_dim: ce_launches(dtype),
}


@dataclass
class Compiled:
    """What compiling one launch for one architecture produced (sizes in bytes)."""

    name: str
    variant: dict[str, object]
    arch: int
    seconds: float
    error: str | None = None
    shared: int = 0
    registers: int = 0
    spill_stores: int = 0
    spill_loads: int = 0
    tensor_core: str = ""  # the PTX matrix instruction used (TENSOR_CORE_OPS), if any
    has_dot: bool = False
    low_precision: bool = False

    def problems(self) -> list[str]:
        """Why this kernel would fail (or silently miss the tensor cores) on the target."""
        if self.error:
            return [f"does not compile: {self.error}"]
        out = []
        limit = SHARED_LIMIT[self.arch]
        if self.shared > limit:
            out.append(f"needs {self.shared} B of shared memory, sm_{self.arch} allows {limit}")
        if self.has_dot and self.low_precision and not self.tensor_core:
            out.append("16-bit matrix products do not use the tensor cores")
        return out


def _ptxas_report(ptx: str, arch: int) -> dict[str, int]:
    """Registers and spill bytes of the kernel in ``ptx``, from ``ptxas -v``."""
    from triton.backends.nvidia.compiler import get_ptxas, sm_arch_from_capability

    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "kernel.ptx")
        with open(src, "w") as f:
            f.write(ptx)
        log = subprocess.run(
            [get_ptxas(arch).path, "-v", "--regAllocOptLevel=2",
             f"--gpu-name={sm_arch_from_capability(arch)}", src, "-o", src + ".o"],
            check=True, capture_output=True, text=True,
        ).stderr

    def number(pattern: str) -> int:
        found = re.search(pattern, log)
        return int(found.group(1)) if found else 0

    return {
        "registers": number(r"Used (\d+) registers"),
        "spill_stores": number(r"(\d+) bytes spill stores"),
        "spill_loads": number(r"(\d+) bytes spill loads"),
    }


def compile_launch(launch: Launch, arch: int) -> Compiled:
    """Compile ``launch`` for ``sm_<arch>`` as Triton's launcher would, down to a cubin."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, make_backend
    from triton.runtime.jit import create_function_from_signature

    kernel = launch.kernel
    target = GPUTarget("cuda", arch, 32)
    backend = make_backend(target)
    binder = create_function_from_signature(kernel.signature, kernel.params, backend)
    bound, specialization, options = binder(*launch.args, **launch.kwargs)
    options, signature, constexprs, attrs = kernel._pack_args(
        backend, launch.kwargs, bound, specialization, options)
    low_precision = any(isinstance(a, torch.Tensor) and a.dtype in (torch.bfloat16, torch.float16)
                        for a in launch.args)
    result = Compiled(launch.name, launch.constexprs(), arch, 0.0, low_precision=low_precision)
    start = time.perf_counter()
    try:
        compiled = triton.compile(ASTSource(kernel, signature, constexprs, attrs), target=target,
                                  options=options.__dict__)
    except Exception as exc:  # a compiler error of any kind is the finding
        result.error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
        return result
    finally:
        result.seconds = time.perf_counter() - start
    ptx = compiled.asm["ptx"]
    result.shared = compiled.metadata.shared
    result.has_dot = "tt.dot" in compiled.asm["ttir"]
    result.tensor_core = next((name for name in TENSOR_CORE_OPS
                               if re.search(rf"\b{re.escape(name)}\.", ptx)), "")
    for key, value in _ptxas_report(ptx, arch).items():
        setattr(result, key, value)
    return result


def check(families: list[str], arches: list[int], dtype: torch.dtype,
          head_dims: tuple[int, ...] = (64, 128)) -> list[Compiled]:
    """Trace the named kernel families and compile each distinct launch for each architecture
    (head_dims only matter to attention)."""
    launches = []
    for family in families:
        for head_dim in head_dims if family == "attention" else head_dims[:1]:
            launches += FAMILIES[family](dtype, head_dim)
    return [compile_launch(launch, arch) for launch in distinct(launches) for arch in arches]


def _variant(v: dict[str, object]) -> str:
    flags = [k.lower() for k, x in v.items() if x is True]
    blocks = [f"{k.removeprefix('BLOCK_')}={x}" for k, x in v.items() if k.startswith("BLOCK_")]
    return " ".join(flags + blocks)


def format_report(results: list[Compiled]) -> str:
    """One line per compiled kernel: resources, tensor cores, and any problem."""
    lines = [f"{'kernel':24s} {'variant':38s} {'arch':>6s} {'regs':>5s} {'spill':>6s} "
             f"{'smem KiB':>9s} {'TC':>11s} {'s':>5s}  problems"]
    for r in results:
        tc = "-" if not r.has_dot else (r.tensor_core or "no")
        lines.append(
            f"{r.name:24s} {_variant(r.variant)[:38]:38s} {'sm_' + str(r.arch):>6s} "
            f"{r.registers:5d} {r.spill_stores:6d} {r.shared / 1024:9.1f} {tc:>11s} "
            f"{r.seconds:5.1f}  {'; '.join(r.problems())}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(FAMILIES), action="append",
                        help="kernel family (repeatable; default all)")
    parser.add_argument("--arch", type=int, nargs="+", default=[80, 90],
                        choices=sorted(SHARED_LIMIT), help="compute capability, e.g. 90")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    parser.add_argument("--head-dim", type=int, nargs="+", default=[64, 128],
                        help="attention head dimensions")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        print("compile_check compiles the kernels: run it without TRITON_INTERPRET",
              file=sys.stderr)
        return 2
    results = check(args.only or list(FAMILIES), args.arch, DTYPES[args.dtype],
                    tuple(args.head_dim))
    if args.json:
        print(json.dumps([asdict(r) | {"problems": r.problems()} for r in results],
                         default=repr))
        return 1 if any(r.problems() for r in results) else 0
    print(format_report(results))
    failed = [r for r in results if r.problems()]
    spilled = [r for r in results if r.spill_stores]
    print(f"\n{len(results)} kernels compiled, {len(failed)} with problems, "
          f"{len(spilled)} spilling registers")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
