"""Input precision of the kernels' fp32 matrix products.

Triton's ``tl.dot`` on two fp32 blocks rounds them to TF32 (10-bit mantissa, relative error
about 5e-4) on NVIDIA tensor cores unless told otherwise, whereas torch's fp32 matmuls are
IEEE unless the user opts into TF32 (``torch.backends.cuda.matmul.fp32_precision = "tf32"``,
``torch.set_float32_matmul_precision("high")`` or the legacy ``allow_tf32 = True``). The
kernels follow torch, so that an fp32 model gives the same numbers on both backends and TF32
is never a silent choice: `ieee_dots` says, on the host, whether a launch on operands of a
given dtype asks for IEEE products, and `dot` is ``tl.dot`` with that choice as a constexpr.
16-bit operands are unaffected (the option only applies to fp32 x fp32 products).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


def ieee_dots(dtype: torch.dtype) -> bool:
    """True when fp32 products of `dtype` operands must be IEEE: `dtype` is fp32 and torch's
    CUDA fp32 matmul precision is not TF32 (its default)."""
    return dtype == torch.float32 and torch.backends.cuda.matmul.fp32_precision != "tf32"


@triton.jit
def dot(a, b, IEEE: tl.constexpr):
    """``tl.dot(a, b)`` (fp32 result): IEEE fp32 products when IEEE, else Triton's default
    (TF32 for fp32 operands on NVIDIA GPUs)."""
    if IEEE:
        return tl.dot(a, b, input_precision="ieee")
    return tl.dot(a, b)


def matmul_operands(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The operands of a kernel's matrix products in one dtype, as torch's matmuls see them.

    Under autocast (the trainer's bf16 mode on CUDA) each tensor is cast to the autocast
    dtype of its device, as ``F.linear`` or SDPA would cast it; the kernels are plain
    functions, which autocast does not reach (an fp32 RMSNorm output would otherwise meet a
    bf16 projection inside one ``tl.dot``). Without autocast the dtypes must already agree.
    """
    device = tensors[0].device.type
    if torch.is_autocast_enabled(device):
        dtype = torch.get_autocast_dtype(device)
        return tuple(t.to(dtype) for t in tensors)
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(f"kernel operands have mixed dtypes {sorted(map(str, dtypes))}; cast "
                        "them to one dtype or run under torch.autocast")
    return tensors
