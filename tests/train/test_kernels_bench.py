"""The kernel benchmark (train.kernels.bench) as a CPU smoke test: a subprocess runs it under
TRITON_INTERPRET=1 in fp32 at tiny shapes (about 10 s of CPU here) and every printed max abs
difference from the peers must be below 1e-4 (observed: at most about 3e-6); without the
interpreter or without a GPU it must refuse with status 1 and say why. The interpreter is set
only in the subprocess's environment, never in this one (on a GPU machine the other kernel
tests run compiled).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.triton

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--seq", "64", "--heads", "2", "--kv-heads", "1", "--head-dim", "16", "--window", "8",
        "--tokens", "32", "--moe-dim", "32", "--moe-hidden", "16", "--experts", "4",
        "--top-k", "2", "--vocab", "100", "--reps", "1"]
DIFF_LINE = re.compile(r"^\s*max \|triton - (\w+)\|: (.*)$")


def _bench(*args: str, interpret: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    if interpret:
        env["TRITON_INTERPRET"] = "1"
    return subprocess.run([sys.executable, "-m", "train.kernels.bench", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


def parse_diffs(stdout: str) -> list[tuple[str, dict[str, float]]]:
    """(peer, {tensor: max abs difference}) for each ``max |triton - peer|:`` line."""
    found = []
    for line in stdout.splitlines():
        m = DIFF_LINE.match(line)
        if m:
            words = m.group(2).split()
            found.append((m.group(1), {n: float(x) for n, x in zip(words[::2], words[1::2],
                                                                   strict=True)}))
    return found


@pytest.mark.slow
def test_cpu_smoke_run_matches_peers():
    proc = _bench("--device", "cpu", *TINY, interpret=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for header in ("attention: B=1 H=2 Hkv=1 T=64 D=16 fp32 on cpu",
                   "moe experts: N=32 d=32 hidden=16 E=4 top-2 fp32 on cpu",
                   "cross-entropy: N=32 V=100 fp32 logits on cpu"):
        assert header in out, out
    for case in ("causal ", "causal, 8 documents", "causal, window 8"):
        assert re.search(rf"^  {re.escape(case)}.* triton +[\d.]+ ms", out, re.M), out
    diffs = parse_diffs(out)
    grads = {"out", "dq", "dk", "dv"}
    attention = [d for peer, d in diffs if peer in ("SDPA", "flex", "torch") and "dq" in d]
    assert len(attention) == 3 and all(set(d) == grads for d in attention), out
    assert diffs[0][0] == "SDPA", out  # the plain causal case compares with SDPA
    assert {"out", "dx", "dweight", "dw1", "dw3", "dw2"} in [set(d) for _, d in diffs], out
    assert {"ce", "z", "dlogits"} in [set(d) for _, d in diffs], out
    for peer, d in diffs:
        for name, value in d.items():
            assert value < 1e-4, f"{name} differs from {peer} by {value}:\n{out}"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the bench would run")
def test_cuda_without_gpu_exits_1():
    proc = _bench("--device", "cuda", *TINY, interpret=False)
    assert proc.returncode == 1
    assert "needs a CUDA GPU (none found)" in proc.stderr
    assert proc.stdout == ""


def test_cpu_without_interpreter_exits_1(monkeypatch, capsys):
    from train.kernels.bench import main

    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert main(["--device", "cpu", *TINY]) == 1
    out, err = capsys.readouterr()
    assert "TRITON_INTERPRET=1" in err and out == ""
