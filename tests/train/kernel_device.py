"""Where the Triton kernel tests run, shared by tests/train/test_kernels_*.py.

Import this module before `train.kernels`: Triton picks compiled or interpreted kernels when
they are decorated. With a CUDA GPU the tests run the compiled kernels on ``cuda`` (plus
bf16 tests at realistic shapes); without one this module sets ``TRITON_INTERPRET=1`` and the
tests run in Triton's CPU interpreter, fp32 only (the interpreter computes bf16 wrongly).
A ``TRITON_INTERPRET=1`` set by hand on a GPU machine is respected: interpreted on ``cuda``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
import torch

GPU = torch.cuda.is_available()
if not GPU:
    os.environ["TRITON_INTERPRET"] = "1"  # before train.kernels decorates its kernels

import triton  # noqa: E402  (after the variable: Triton decorates its own library on import)

DEVICE = torch.device("cuda" if GPU else "cpu")
INTERPRETED: bool = triton.knobs.runtime.interpret
"""True when the kernels run in Triton's interpreter (always on CPU)."""
COMPILED = GPU and not INTERPRETED
"""True when the tests exercise the compiled GPU kernels."""

requires_compiled = pytest.mark.skipif(
    not COMPILED, reason="needs the compiled kernels on a CUDA GPU (the interpreter computes "
    "bf16 wrongly and has no TF32)"
)


@contextlib.contextmanager
def exact_fp32() -> Iterator[None]:
    """IEEE fp32 matmuls (no TF32) in torch and in the kernels (`train.kernels.precision`
    follows torch), and SDPA's math backend, so fp32 results on GPU compare to 1e-5."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    matmul = torch.backends.cuda.matmul
    before = matmul.fp32_precision
    matmul.fp32_precision = "ieee"
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        matmul.fp32_precision = before


def assert_close_bf16(actual: torch.Tensor, expected: torch.Tensor, name: str = "") -> None:
    """A bf16 kernel result against the fp32 torch reference on the same (bf16-rounded)
    inputs: elementwise ``|a - e| <= 0.01 * max|e| + 0.01 * |e|``.

    The bound is a little over twice the error of a CPU emulation of the kernels' roundings
    (bf16 products with fp32 accumulation, bf16 stores of softmax weights, activations and
    outputs) at the shapes of the bf16 tests; a masking or indexing bug is off by O(max|e|).
    """
    expected = expected.detach().float()
    atol = 1e-2 * expected.abs().max().item()
    torch.testing.assert_close(actual.detach().float(), expected, atol=atol, rtol=1e-2,
                               msg=lambda m: f"{name}: {m}")
