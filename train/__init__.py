"""A small torch trainer for the corpora this toolkit writes.

`train.model` is the model (one file, configured by `ModelConfig`); `train.attention`,
`train.moe` and `train.loss` hold the three operations that have fast kernels, `train.optim`
the optimisers and `train.schedule` the learning-rate and batch-size schedules. A run is a
`train.config.TrainConfig`; `train.trainer` is its loop, over `train.parallel` (DDP / FSDP)
and `train.checkpoint`, and `train.cli` its command line.

Kernel dispatch is a tiny registry: each operation (``"attention"``, ``"moe_experts"``,
``"lm_losses"``) has a pure-torch reference registered under the backend ``"torch"``; a
Triton implementation registers itself under ``"triton"`` when `train.kernels` is imported,
with the same signature.
`get_kernel(op, device_type)` picks one:

- ``CURATE_KERNELS=torch`` or ``CURATE_KERNELS=triton`` forces a backend (forcing ``triton``
  with no Triton kernel registered for the operation is an error, not a silent fallback);
- otherwise ``triton`` when the tensors are on CUDA and `triton` and `train.kernels` import,
  else ``torch``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

BACKENDS = ("torch", "triton")
_KERNELS: dict[tuple[str, str], Callable] = {}
_triton_loaded: bool | None = None


def register_kernel(op: str, backend: str, fn: Callable) -> Callable:
    """Register `fn` as the `backend` implementation of operation `op`; returns `fn`."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown kernel backend {backend!r}; expected one of {BACKENDS}")
    _KERNELS[(op, backend)] = fn
    return fn


def _load_triton_kernels() -> bool:
    """Import `triton` and `train.kernels` once (the latter registers its kernels).

    Returns False when either module is absent; any other import error propagates, so a
    broken kernel module is never hidden behind the torch fallback.
    """
    global _triton_loaded
    if _triton_loaded is None:
        try:
            importlib.import_module("triton")
            importlib.import_module("train.kernels")
            _triton_loaded = True
        except ModuleNotFoundError as e:
            if e.name not in ("triton", "train.kernels"):
                raise
            _triton_loaded = False
    return _triton_loaded


def kernel_backend(device_type: str) -> str:
    """The backend to use for tensors on `device_type` ("cpu", "cuda", ...)."""
    forced = os.environ.get("CURATE_KERNELS", "").strip().lower()
    if forced:
        if forced not in BACKENDS:
            raise ValueError(f"CURATE_KERNELS={forced!r}; expected one of {BACKENDS}")
        return forced
    if device_type == "cuda" and _load_triton_kernels():
        return "triton"
    return "torch"


def get_kernel(op: str, device_type: str) -> Callable:
    """The implementation of `op` for tensors on `device_type` (see the module docstring)."""
    backend = kernel_backend(device_type)
    if backend == "triton":
        _load_triton_kernels()
        fn = _KERNELS.get((op, "triton"))
        if fn is not None:
            return fn
        if os.environ.get("CURATE_KERNELS", "").strip().lower() == "triton":
            raise RuntimeError(f"CURATE_KERNELS=triton but no Triton kernel registered for {op!r}")
    return _KERNELS[(op, "torch")]
