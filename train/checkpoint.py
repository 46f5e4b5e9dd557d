"""Checkpoints: full (unsharded) state dicts, written atomically, read back by any parallelism.

Layout under a run's ``checkpoints/``: ``ckpt-<step:07d>/`` holds ``model.pt``, ``optim.pt``
and ``state.json`` (``step`` and what the trainer adds: config, tokenizer, loader state);
``latest`` names the newest. A checkpoint is written under ``<name>.tmp`` and renamed, then
``latest`` is replaced the same way, then all but the newest ``keep`` are removed: whenever a
run stops, ``latest`` names a complete checkpoint.

Whatever the parallelism, ``torch.distributed.checkpoint.state_dict`` gathers the state dicts
onto rank 0's CPU, keyed by parameter name (the optimiser state too), and rank 0 alone writes;
so a 1-rank, DDP or FSDP run resumes any of their checkpoints, every rank reading the files
and keeping its shard.
"""

from __future__ import annotations

import json
import os
import shutil

import torch
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import FSDPModule

from train.parallel import World

LATEST = "latest"
_GATHER = StateDictOptions(full_state_dict=True, cpu_offload=True)
_FULL = StateDictOptions(full_state_dict=True)


def save(root: str, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
         state: dict, world: World, keep: int) -> str:
    """Write ``root/ckpt-<step>/`` (``state.json``: ``{"step": step, **state}``) and point
    ``latest`` at it; returns its path. Every rank calls it; it returns on all of them once the
    checkpoint is complete."""
    path = os.path.join(root, f"ckpt-{step:07d}")
    model_state = get_model_state_dict(model, options=_GATHER)
    optim_state = get_optimizer_state_dict(model, optimizer, options=_GATHER)
    if world.rank == 0:
        tmp = path + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        torch.save(model_state, os.path.join(tmp, "model.pt"))
        torch.save(optim_state, os.path.join(tmp, "optim.pt"))
        with open(os.path.join(tmp, "state.json"), "w") as f:
            json.dump({"step": step, **state}, f, indent=2)
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
        with open(os.path.join(root, LATEST + ".tmp"), "w") as f:
            f.write(os.path.basename(path))
        os.replace(os.path.join(root, LATEST + ".tmp"), os.path.join(root, LATEST))
        done = sorted(n for n in os.listdir(root)
                      if n.startswith("ckpt-") and not n.endswith(".tmp"))
        for name in done[:-keep]:
            shutil.rmtree(os.path.join(root, name))
    world.barrier()
    return path


def latest(root: str) -> str | None:
    """The path of the checkpoint ``root/latest`` names; None before the first."""
    pointer = os.path.join(root, LATEST)
    if not os.path.exists(pointer):
        return None
    with open(pointer) as f:
        return os.path.join(root, f.read().strip())


def read_state(path: str) -> dict:
    """The ``state.json`` of the checkpoint at ``path``."""
    with open(os.path.join(path, "state.json")) as f:
        return json.load(f)


def load(path: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None) -> None:
    """Load the weights, and the optimiser state unless ``optimizer`` is None, of the checkpoint
    at ``path`` into this rank's (possibly sharded) model and optimiser."""
    if optimizer is not None:
        # before the weights: a fresh optimiser's state is first made by a zero-LR step
        optim_state = torch.load(os.path.join(path, "optim.pt"), map_location="cpu")
        if all(isinstance(k, str) for k in optim_state["state"]):
            set_optimizer_state_dict(model, optimizer, optim_state, options=_FULL)
        elif isinstance(model, FSDPModule):
            raise ValueError(f"{path}: optimiser state keyed by index (an older checkpoint)"
                             " cannot be loaded into an FSDP run")
        else:  # an older checkpoint: ``optimizer.state_dict()``, keyed by parameter index
            optimizer.load_state_dict(optim_state)
    set_model_state_dict(model, torch.load(os.path.join(path, "model.pt"), map_location="cpu"),
                         options=_FULL)
