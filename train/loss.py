"""The language-model losses, one kernel-dispatched operation ``"lm_losses"``.

For raw head outputs ``logits`` (N, V) and ``labels`` (N,) with `IGNORE_INDEX` where no loss
is taken, and ``c = cap * tanh(logits / cap)`` when ``softcap > 0`` (else ``c = logits``):

- ``ce`` = mean over labelled rows of ``logsumexp(c) - c[label]`` (nats);
- ``z_loss`` = mean over labelled rows of ``logsumexp(c)^2`` (unweighted).

`lm_losses_torch` is the reference, in fp32 whatever the logits' dtype (it materialises the
fp32 logits); the Triton kernel (`train.kernels.cross_entropy.fused_cross_entropy`, registered
under ``"triton"``) streams the vocabulary in chunks and never does. `lm_losses` dispatches
with `train.get_kernel`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from train import get_kernel, register_kernel

IGNORE_INDEX = -100


def lm_losses_torch(
    logits: torch.Tensor,
    labels: torch.Tensor,
    softcap: float = 0.0,
    ignore_index: int = IGNORE_INDEX,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ce, z_loss)`` float32 scalars (see the module docstring); NaN with no labelled row."""
    logits = logits.float()
    if softcap > 0:
        logits = softcap * torch.tanh(logits / softcap)
    ce = F.cross_entropy(logits, labels, ignore_index=ignore_index)
    valid = labels != ignore_index
    z_loss = torch.logsumexp(logits[valid], dim=-1).pow(2).mean()
    return ce, z_loss


register_kernel("lm_losses", "torch", lm_losses_torch)


def lm_losses(
    logits: torch.Tensor, labels: torch.Tensor, softcap: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ce, z_loss)`` of raw logits (N, V) and labels (N,), by the Triton kernel on CUDA and
    the torch reference elsewhere (`train.get_kernel`)."""
    return get_kernel("lm_losses", logits.device.type)(logits, labels, softcap)
