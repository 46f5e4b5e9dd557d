"""The Triton kernels compile for sm_80 and sm_90 without a GPU (train.kernels.compile_check):
every launch the wrappers make, traced from a real forward and backward, goes through Triton's
compiler and ptxas; the defaults fit in shared memory, use the tensor cores in bf16 and do
not spill registers. Each check runs in a fresh interpreter without TRITON_INTERPRET (other
test modules set it, and interpreted kernels cannot be compiled) and a private Triton cache,
so every kernel is really compiled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.triton, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _python(code_or_args: list[str], cache: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(cache)
    return subprocess.run([sys.executable, *code_or_args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_every_default_kernel_compiles_for_ampere_and_hopper(tmp_path):
    """All three families at head dim 128, bf16, sm_80 and sm_90: no compile error, shared
    memory within the block limit, tensor cores for every matrix product, no spills."""
    run = _python(["-m", "train.kernels.compile_check", "--json", "--arch", "80", "90",
                   "--head-dim", "128"], tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(run.stdout)
    names = {r["name"] for r in results}
    assert {"_attn_fwd_kernel", "_attn_bwd_dkdv_kernel", "_attn_bwd_dq_kernel",
            "_moe_up_kernel", "_moe_wgrad_down_kernel", "_ce_fwd_kernel",
            "_ce_bwd_kernel"} <= names
    assert {r["arch"] for r in results} == {80, 90}
    for r in results:
        where = f"{r['name']} {r['variant']} sm_{r['arch']}"
        assert r["problems"] == [], where
        assert r["spill_stores"] == 0, f"{where} spills {r['spill_stores']} B"
        assert 0 < r["registers"] <= 255, where
        if r["has_dot"]:
            assert r["tensor_core"] == {80: "mma", 90: "wgmma"}[r["arch"]], where
    attention = [r for r in results if r["name"].startswith("_attn_fwd")]
    # causal; with documents; with documents and a window
    assert len(attention) == 3 * 2


CHECKER_CASES = """
import json, torch
from train.kernels import compile_check as cc
fwd = next(launch for launch in cc.attention_launches(torch.bfloat16, 128)
           if launch.name == "_attn_fwd_kernel")
huge = cc.Launch(fwd.kernel, fwd.args, {**fwd.kwargs, "BLOCK_M": 64, "BLOCK_N": 128,
                                         "num_warps": 4, "num_stages": 4})
fp32 = next(launch for launch in cc.attention_launches(torch.float32, 64)
            if launch.name == "_attn_fwd_kernel")
out = {"huge": cc.compile_launch(huge, 80).problems(),
       "fp32": cc.compile_launch(fp32, 90).problems()}
print(json.dumps(out))
"""


def test_the_checker_flags_a_tile_too_large_for_shared_memory(tmp_path):
    """A 64 x 128 forward tile in 4 stages at head dim 128 needs 224 KiB of shared memory,
    more than an A100 has: the check reports it (Triton would raise OutOfResources at
    launch). fp32 operands compile (IEEE products) and need not use the tensor cores."""
    run = _python(["-c", CHECKER_CASES], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout)
    assert len(out["huge"]) == 1 and "shared memory" in out["huge"][0], out
    assert out["fp32"] == [], out


def test_it_refuses_to_run_with_the_interpreter(tmp_path):
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    run = subprocess.run([sys.executable, "-m", "train.kernels.compile_check"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "without TRITON_INTERPRET" in run.stderr
