"""Learning-rate and batch-size schedules: pure functions of the optimiser step.

`step` counts optimiser updates from 0; the value returned is the one to use for update
`step`. Warmup is linear and reaches the peak at the last warmup step:
``lr = max_lr * (step + 1) / warmup_steps`` for ``step < warmup_steps``. Decays end at
``total_steps`` (the value there, and after, is the final one), so update ``total_steps - 1``
still has a small non-zero rate. Pass ``max_lr=1.0`` to get a multiplier for
`train.optim.set_lr_scale`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from train.config import StageConfig


def _warmup(step: int, max_lr: float, warmup_steps: int) -> float | None:
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    return None


def wsd(
    step: int,
    *,
    max_lr: float,
    total_steps: int,
    warmup_steps: int = 0,
    decay_steps: int | None = None,
    decay_fraction: float = 0.2,
    min_lr: float = 0.0,
    decay_shape: str = "linear",
) -> float:
    """Warmup-stable-decay: warmup, `max_lr` until ``total_steps - decay_steps``, then decay
    to `min_lr` at `total_steps`.

    decay_steps defaults to ``round(decay_fraction * total_steps)``. decay_shape, with
    progress p in [0, 1] through the decay: "linear" ``1 - p``, "cosine"
    ``(1 + cos(pi p)) / 2``, "sqrt" ``1 - sqrt(p)`` (MiniCPM's 1-sqrt).
    """
    lr = _warmup(step, max_lr, warmup_steps)
    if lr is not None:
        return lr
    if decay_steps is None:
        decay_steps = round(decay_fraction * total_steps)
    decay_start = total_steps - decay_steps
    if decay_steps <= 0 or step < decay_start:
        return max_lr
    p = min(1.0, (step - decay_start) / decay_steps)
    if decay_shape == "linear":
        frac = 1.0 - p
    elif decay_shape == "cosine":
        frac = 0.5 * (1.0 + math.cos(math.pi * p))
    elif decay_shape == "sqrt":
        frac = 1.0 - math.sqrt(p)
    else:
        raise ValueError(f"decay_shape must be linear, cosine or sqrt, not {decay_shape!r}")
    return min_lr + (max_lr - min_lr) * frac


def cosine(
    step: int,
    *,
    max_lr: float,
    total_steps: int,
    warmup_steps: int = 0,
    min_lr: float = 0.0,
) -> float:
    """Warmup, then half a cosine from `max_lr` (at `warmup_steps`) to `min_lr` (at
    `total_steps`)."""
    lr = _warmup(step, max_lr, warmup_steps)
    if lr is not None:
        return lr
    p = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr + (max_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * p))


def linear_to_zero(step: int, *, start_lr: float, total_steps: int, warmup_steps: int = 0) -> float:
    """Warmup to `start_lr`, then linear from `start_lr` (at `warmup_steps`) to 0 (at
    `total_steps`): the microanneal schedule, started from a checkpoint's LR."""
    lr = _warmup(step, start_lr, warmup_steps)
    if lr is not None:
        return lr
    p = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return start_lr * (1.0 - p)


def lr_multiplier(stage: StageConfig, step: int) -> float:
    """The LR multiplier at ``step`` of ``stage`` (0-based within the stage): its ``schedule``
    (wsd, cosine, linear_to_zero or constant) peaking at its ``lr_scale``."""
    common = {"total_steps": stage.steps, "warmup_steps": stage.warmup_steps}
    if stage.schedule == "wsd":
        return wsd(step, max_lr=stage.lr_scale, decay_fraction=stage.decay_fraction, **common)
    if stage.schedule == "cosine":
        return cosine(step, max_lr=stage.lr_scale, **common)
    if stage.schedule == "linear_to_zero":
        return linear_to_zero(step, start_lr=stage.lr_scale, **common)
    if stage.schedule == "constant":
        return stage.lr_scale
    raise ValueError(f"unknown schedule {stage.schedule!r}")


def batch_size_warmup(
    step: int, *, start: int, final: int, warmup_steps: int, multiple_of: int = 1
) -> int:
    """Batch size (sequences or tokens) for `step`: linear from `start` at step 0 to `final`
    at `warmup_steps`, rounded down to a multiple of `multiple_of` (never below `start`
    rounded the same way, nor below `multiple_of`), `final` from then on."""
    if step >= warmup_steps:
        return final
    size = start + (final - start) * step / warmup_steps
    return max(multiple_of, int(size) // multiple_of * multiple_of)
