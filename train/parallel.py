"""Data parallelism: this process's rank, the process group, and the model replicated with DDP
or sharded with FSDP2. The model code is unaware of it.

Launched by ``torchrun`` (``WORLD_SIZE`` > 1), the ranks join one process group (gloo on CPU,
NCCL on CUDA with one GPU per ``LOCAL_RANK``); without it there is one rank and the model is
used as it is.

- ``ddp``: DDP syncs buffers only at construction, not at every forward: the RoPE tables are
  functions of the config, MoE biases are updated on every rank from all-reduced expert loads,
  and the per-rank expert-load counters must not be overwritten by rank 0's.
- ``fsdp``: FSDP2's ``fully_shard`` on every transformer block, then on the root; bf16
  parameters with fp32 gradient reduction on CUDA, fp32 on CPU. Parameters, gradients and
  optimiser state become DTensors sharded over the ranks.

Both average gradients over the ranks (all-reduce or reduce-scatter). Micro-batches before the
last of a step accumulate locally (`no_sync`), and the norm of sharded gradients is one
all-reduce (`clip_gradients`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor
from torch.nn.parallel import DistributedDataParallel

from train.config import Parallel
from train.model import Transformer
from train.optim import clip_grad_norm

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process among the ranks of a launch: ``rank`` in ``[0, size)``, and its device."""

    rank: int
    size: int
    device: torch.device

    @classmethod
    def join(cls) -> World:
        """The world of ``torchrun``'s ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (one CPU or
        GPU rank without them); with several ranks, joins the process group once per process."""
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        device = (torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
                  if torch.cuda.is_available() else torch.device("cpu"))
        if size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(rank, size, device)

    def barrier(self) -> None:
        """Wait for every rank (a no-op with one rank)."""
        if self.size > 1:
            dist.barrier()

    def rank0_first(self, build: Callable[[], T]) -> T:
        """``build()`` on rank 0, then on the other ranks once it is done (so shared caches,
        such as the ``.npy`` exports, are written by one process only)."""
        if self.rank == 0:
            out = build()
        self.barrier()
        if self.rank != 0:
            out = build()
        return out

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over the ranks, on this rank's device (``tensor`` itself with one
        rank)."""
        if self.size == 1:
            return tensor
        tensor = tensor.to(self.device)
        dist.all_reduce(tensor)
        return tensor


def leave() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def parallelize(model: Transformer, world: World, mode: Parallel) -> torch.nn.Module:
    """What the loop calls forward on: ``model`` with one rank, DDP's wrapper of it with
    ``ddp``, ``model`` sharded in place with ``fsdp``. Call it before building the optimiser
    (whose parameters must be the DTensors)."""
    if mode not in ("ddp", "fsdp"):
        raise ValueError(f"unknown parallel {mode!r}; expected 'ddp' or 'fsdp'")
    if world.size == 1:
        return model
    if mode == "ddp":
        return DistributedDataParallel(model, forward_sync_buffers=False)
    mp = (MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
          if world.device.type == "cuda" else MixedPrecisionPolicy())
    for block in model.blocks:
        fully_shard(block, mp_policy=mp)
    # the root's parameters are needed again at once by the backward: keep them gathered
    fully_shard(model, mp_policy=mp, reshard_after_forward=False)
    return model


@contextlib.contextmanager
def no_sync(module: torch.nn.Module) -> Iterator[None]:
    """Gradients of the backward passes in this context accumulate locally: DDP skips its
    all-reduce; FSDP skips its reduce-scatter and keeps the blocks unsharded until the step's
    last backward (both restored on exit); an unwrapped module has nothing to skip."""
    if isinstance(module, DistributedDataParallel):
        with module.no_sync():
            yield
    elif isinstance(module, FSDPModule):
        module.set_requires_gradient_sync(False)
        module.set_reshard_after_backward(False)
        try:
            yield
        finally:
            module.set_requires_gradient_sync(True)
            module.set_reshard_after_backward(True)
    else:
        yield


def clip_gradients(model: torch.nn.Module, max_norm: float) -> torch.Tensor:
    """`train.optim.clip_grad_norm` of ``model``'s gradients (no clipping if ``max_norm`` <= 0);
    for an FSDP model the total norm of the sharded gradients is all-reduced to a plain tensor
    before the shards are scaled. Returns the norm before clipping."""
    if not isinstance(model, FSDPModule):
        return clip_grad_norm(model.parameters(), max_norm)
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.get_total_norm([p.grad for p in params], foreach=True)
    if isinstance(norm, DTensor):
        norm = norm.full_tensor()
    if max_norm > 0:
        torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm, foreach=True)
    return norm


def reshard(model: torch.nn.Module) -> None:
    """Free the gathered parameters an FSDP root keeps after a forward with no backward (an
    evaluation); a no-op otherwise."""
    if isinstance(model, FSDPModule):
        model.reshard()
