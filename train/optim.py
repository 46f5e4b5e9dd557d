"""Optimisers: AdamW, and Muon with AdamW for the parameters Muon is not meant for.

Parameters are split into four kinds (`split_parameters`):

- ``embedding``: token embeddings (a head tied to them counts as embedding);
- ``head``: an untied output head;
- ``gains``: every parameter with fewer than 2 dims (norm gains, biases);
- ``matrices``: every other parameter (hidden 2-D weights; 3-D expert weights, which Muon
  treats as a batch of matrices).

AdamW (betas 0.9/0.95) decays ``matrices`` and ``head`` only. Muon updates ``matrices`` and
AdamW the rest. Every param group carries ``base_lr``; schedules set ``lr = base_lr * scale``
through `set_lr_scale`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.distributed.tensor import DTensor, Replicate
from torch.optim.adamw import adamw

# Quintic Newton-Schulz coefficients from Keller Jordan's Muon: they push every singular value
# of a normalised matrix into roughly [0.7, 1.2] in 5 steps (fast, not exactly 1).
NS_COEFFS = (3.4445, -4.7750, 2.0315)


@dataclass
class OptimConfig:
    """name: "adamw" or "muon". lr: AdamW learning rate (all AdamW groups under Muon too),
    embed_lr: AdamW lr of the embedding (default `lr`); muon_lr: Muon's lr for matrices,
    in units of spectral norm per step before the ``sqrt(max(1, rows/cols))`` shape factor."""

    name: str = "adamw"
    lr: float = 3e-4
    embed_lr: float | None = None
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    weight_decay: float = 0.1
    muon_lr: float = 0.02
    muon_momentum: float = 0.95
    muon_nesterov: bool = True
    muon_ns_steps: int = 5
    muon_weight_decay: float = 0.0


def split_parameters(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters by kind (see the module docstring), each listed once."""
    embedding_ids = {
        id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()
    }
    head = getattr(model, "lm_head", None)
    head_ids = {id(p) for p in head.parameters()} - embedding_ids if head is not None else set()
    kinds: dict[str, list[nn.Parameter]] = {
        k: [] for k in ("embedding", "head", "gains", "matrices")
    }
    for p in model.parameters():  # yields a shared (tied) tensor once
        if not p.requires_grad:
            continue
        if id(p) in embedding_ids:
            kinds["embedding"].append(p)
        elif id(p) in head_ids:
            kinds["head"].append(p)
        elif p.ndim < 2:
            kinds["gains"].append(p)
        else:
            kinds["matrices"].append(p)
    return kinds


def newton_schulz(g: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """Approximate ``U V^T`` of ``g = U S V^T`` (the nearest semi-orthogonal matrix).

    g: (..., m, n); leading dims are a batch. Runs in bfloat16 on CUDA, float32 elsewhere;
    returns g's dtype. With the default 5 steps the singular values of the result lie in
    about [0.7, 1.2] rather than exactly 1 (the coefficients trade accuracy for speed).
    """
    a, b, c = NS_COEFFS
    x = g.bfloat16() if g.is_cuda else g.float()
    transposed = g.shape[-2] > g.shape[-1]
    if transposed:
        x = x.mT
    x = x / (x.norm(dim=(-2, -1), keepdim=True) + eps)  # spectral norm <= Frobenius norm <= 1
    for _ in range(steps):
        s = x @ x.mT
        x = a * x + (b * s + c * s @ s) @ x
    if transposed:
        x = x.mT
    return x.to(g.dtype)


class Muon(torch.optim.Optimizer):
    """Muon (momentum, then Newton-Schulz orthogonalisation) for param groups with
    ``use_muon=True``; AdamW for the others. One optimiser, one state dict.

    Muon group keys: lr, momentum, nesterov, ns_steps, weight_decay. AdamW group keys: lr,
    betas, eps, weight_decay. Weight decay is decoupled: ``p *= 1 - lr * weight_decay``.
    The Muon update of a (rows, cols) matrix is scaled by ``sqrt(max(1, rows / cols))``.

    The AdamW groups are stepped by torch's own AdamW (`torch.optim.adamw.adamw`, foreach),
    with `torch.optim.AdamW`'s state (``step`` a scalar tensor, ``exp_avg``, ``exp_avg_sq``).
    Parameters sharded by FSDP2 (DTensors) keep their momentum sharded; Newton-Schulz needs
    the whole matrix, so each rank gathers the update, orthogonalises it, and applies its
    own shard of the result.
    """

    def __init__(self, param_groups: list[dict]) -> None:
        for group in param_groups:
            if "use_muon" not in group:
                raise ValueError("every Muon param group needs use_muon=True/False")
        super().__init__(param_groups, defaults={})

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        # checkpoints from before the foreach AdamW kept an AdamW ``step`` as a Python int
        for s in self.state.values():
            if isinstance(s.get("step"), int):
                s["step"] = torch.tensor(float(s["step"]))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            if group["use_muon"]:
                self._muon_step(group)
            else:
                self._adamw_step(group)
        return loss

    def _muon_step(self, group: dict) -> None:
        lr, mom = group["lr"], group["momentum"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state["momentum_buffer"] = torch.zeros_like(p)
            buf = state["momentum_buffer"]
            buf.lerp_(p.grad, 1 - mom)
            update = p.grad.lerp(buf, mom) if group["nesterov"] else buf
            if isinstance(update, DTensor):  # a shard: orthogonalise the whole matrix
                full = newton_schulz(update.full_tensor(), group["ns_steps"])
                replicated = [Replicate()] * update.device_mesh.ndim
                update = DTensor.from_local(full, update.device_mesh, replicated,
                                            run_check=False).redistribute(
                                                update.device_mesh, update.placements)
            else:
                update = newton_schulz(update, group["ns_steps"])
            update *= math.sqrt(max(1.0, p.shape[-2] / p.shape[-1]))
            p.mul_(1 - lr * group["weight_decay"])
            p.add_(update, alpha=-lr)

    def _adamw_step(self, group: dict) -> None:
        params = [p for p in group["params"] if p.grad is not None]
        for p in params:
            state = self.state[p]
            if not state:  # as torch.optim.AdamW makes it (a CPU step for foreach)
                state["step"] = torch.tensor(0.0)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        states = [self.state[p] for p in params]
        beta1, beta2 = group["betas"]
        adamw(params, [p.grad for p in params], [s["exp_avg"] for s in states],
              [s["exp_avg_sq"] for s in states], [], [s["step"] for s in states],
              foreach=True, amsgrad=False, beta1=beta1, beta2=beta2, lr=group["lr"],
              weight_decay=group["weight_decay"], eps=group["eps"], maximize=False)


def build_optimizer(model: nn.Module, config: OptimConfig) -> torch.optim.Optimizer:
    """AdamW or Muon over `model`'s parameters, grouped by kind (module docstring).

    Each group has ``name`` (its kind) and ``base_lr``. Empty groups are left out.
    """
    kinds = split_parameters(model)
    embed_lr = config.lr if config.embed_lr is None else config.embed_lr
    adam = {"betas": config.betas, "eps": config.eps}
    groups: list[dict] = [
        {"name": "embedding", "params": kinds["embedding"], "lr": embed_lr, "weight_decay": 0.0},
        {"name": "gains", "params": kinds["gains"], "lr": config.lr, "weight_decay": 0.0},
        {
            "name": "head",
            "params": kinds["head"],
            "lr": config.lr,
            "weight_decay": config.weight_decay,
        },
    ]
    if config.name == "adamw":
        groups.append(
            {
                "name": "matrices",
                "params": kinds["matrices"],
                "lr": config.lr,
                "weight_decay": config.weight_decay,
            }
        )
        groups = [{**g, **adam} for g in groups if g["params"]]
        for g in groups:
            g["base_lr"] = g["lr"]
        return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, eps=config.eps)
    if config.name == "muon":
        groups = [{**g, **adam, "use_muon": False} for g in groups]
        groups.append(
            {
                "name": "matrices",
                "params": kinds["matrices"],
                "lr": config.muon_lr,
                "use_muon": True,
                "momentum": config.muon_momentum,
                "nesterov": config.muon_nesterov,
                "ns_steps": config.muon_ns_steps,
                "weight_decay": config.muon_weight_decay,
            }
        )
        groups = [g for g in groups if g["params"]]
        for g in groups:
            g["base_lr"] = g["lr"]
        return Muon(groups)
    raise ValueError(f"unknown optimizer {config.name!r}; expected 'adamw' or 'muon'")


def set_lr_scale(optimizer: torch.optim.Optimizer, scale: float) -> None:
    """Set every group's ``lr = base_lr * scale`` (scale from a schedule with max_lr=1)."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * scale


def clip_grad_norm(parameters: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale gradients so their global L2 norm is at most `max_norm` (no clipping when
    max_norm <= 0). Returns the norm before clipping, a float32 scalar tensor."""
    params = [p for p in parameters if p.grad is not None]
    if max_norm > 0:
        return torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
    if not params:
        return torch.zeros(())
    return torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(p.grad.float()) for p in params])
    )
