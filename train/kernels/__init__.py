"""Triton kernels for the trainer, each beside a torch reference it is tested against.

Importing this package registers the Triton implementations under the backend ``"triton"``
of `train.register_kernel`, with the exact signatures of the torch paths:

- ``"attention"``: `train.kernels.attention.attention_triton` (FlashAttention-2 style,
  packed documents, causal, GQA, sliding window);
- ``"moe_experts"``: `train.kernels.moe.moe_experts_triton` (sorted token-expert pairs,
  grouped GEMM over contiguous expert segments, SwiGLU, weighted un-permute);

- ``"lm_losses"``: `train.kernels.cross_entropy.fused_cross_entropy` (cross-entropy and
  z-loss with soft-capping, chunked over the vocabulary: no fp32 logits are materialised).

The package imports on a machine without a GPU: Triton compiles kernels at their first
launch. To run them on CPU tensors set ``TRITON_INTERPRET=1`` *before* this package is
imported (the interpreter is chosen when the kernels are decorated); tiny shapes only.
"""

from __future__ import annotations

from train import register_kernel
from train.kernels.attention import attention_triton, flash_attention
from train.kernels.cross_entropy import fused_cross_entropy
from train.kernels.moe import moe_experts_grouped, moe_experts_triton

register_kernel("attention", "triton", attention_triton)
register_kernel("moe_experts", "triton", moe_experts_triton)
register_kernel("lm_losses", "triton", fused_cross_entropy)

__all__ = [
    "attention_triton", "flash_attention", "fused_cross_entropy", "moe_experts_grouped",
    "moe_experts_triton",
]
