"""FSDP2 through torchrun on CPU (gloo): 2 sharded ranks train what 1 rank trains, and
checkpoints are interchangeable between FSDP and 1-process runs.

The setup is test_ddp.py's (same stages, global batch and tolerance) with ``parallel: fsdp``:
the reduce-scatter adds gradients in another order than one process does, so the weights are
compared within ``ATOL``, not bitwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch
from test_ddp import ATOL, REPO, two_rank_setup, write_config
from test_trainer import config, metrics

from train.trainer import Trainer


def torchrun(config_path: str) -> None:
    """Train ``config_path`` with 2 ranks under torchrun; fail the test with its output."""
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": REPO}
    env.pop("WORLD_SIZE", None)
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
         "--standalone", "-m", "train.trainer", config_path],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def copy_checkpoint(src_run, name: str, dst_run) -> None:
    """Make ``name`` of ``src_run`` the latest (only) checkpoint of ``dst_run``."""
    ckpts = dst_run / "checkpoints"
    ckpts.mkdir(parents=True)
    shutil.copytree(src_run / "checkpoints" / name, ckpts / name)
    (ckpts / "latest").write_text(name)


def max_diff(a: dict, b: dict) -> float:
    """max |a - b| over the tensors of two state dicts with the same keys."""
    assert set(a) == set(b)
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.mark.slow
def test_fsdp_two_gloo_ranks_match_one_rank_and_share_checkpoints(tmp_path, tokenizer_path):
    stages, path = two_rank_setup(tmp_path, tokenizer_path, parallel="fsdp")
    torchrun(path)

    run = tmp_path / "two" / "run"
    lines = metrics(run)
    assert [r["step"] for r in lines if "ce" in r] == [1, 2, 3, 4]  # one writer: no duplicates
    assert all("web" in r["eval_bpb"] for r in lines if "eval_bpb" in r)
    ckpts = run / "checkpoints"
    assert (ckpts / "latest").read_text() == "ckpt-0000004"
    assert sorted(p.name for p in ckpts.iterdir()) == ["ckpt-0000002", "ckpt-0000004", "latest"]
    got = torch.load(ckpts / "ckpt-0000004" / "model.pt")
    assert not any(type(v).__name__ == "DTensor" for v in got.values())  # full, plain tensors

    one_cfg = config(tmp_path / "one", {}, 0, stages=stages, grad_accum=2, checkpoint_every=2,
                     tokenizer_path=tokenizer_path)
    one = Trainer(one_cfg)
    one.fit()
    want = one.model.state_dict()
    assert max_diff(got, want) < ATOL
    fresh = Trainer(one_cfg).model.state_dict()
    moved = max((want[k] - fresh[k]).abs().max().item() for k in want)
    assert moved > 100 * ATOL  # training moved the weights far more than the tolerance
    ones = metrics(tmp_path / "one" / "run")
    for a, b in zip([r for r in lines if "ce" in r], ones, strict=True):
        assert a["ce"] == pytest.approx(b["ce"], abs=1e-4)
    # the checkpoint files have the same layout whatever the parallelism
    for name in ("model.pt", "optim.pt"):
        a = torch.load(ckpts / "ckpt-0000002" / name)
        b = torch.load(tmp_path / "one" / "run" / "checkpoints" / "ckpt-0000002" / name)
        if name == "optim.pt":
            assert a["param_groups"] == b["param_groups"]
            a, b = a["state"], b["state"]
        assert set(a) == set(b)

    # a 1-process run resumes the FSDP run's step-2 checkpoint (weights and AdamW moments)
    copy_checkpoint(run, "ckpt-0000002", tmp_path / "from_fsdp" / "run")
    from_fsdp = Trainer(config(tmp_path / "from_fsdp", {}, 0, stages=stages, grad_accum=2,
                               tokenizer_path=tokenizer_path))
    from_fsdp.fit()
    assert [r["step"] for r in metrics(tmp_path / "from_fsdp" / "run")] == [3, 4]
    assert max_diff(from_fsdp.model.state_dict(), want) < ATOL

    # and an FSDP run resumes the 1-process run's step-2 checkpoint
    copy_checkpoint(tmp_path / "one" / "run", "ckpt-0000002", tmp_path / "to_fsdp" / "run")
    to_fsdp = config(tmp_path / "to_fsdp", {}, 0, stages=stages, grad_accum=2,
                     tokenizer_path=tokenizer_path, parallel="fsdp")
    to_fsdp.batch_rows = 2
    torchrun(write_config(tmp_path / "to_fsdp.yaml", to_fsdp))
    assert [r["step"] for r in metrics(tmp_path / "to_fsdp" / "run")] == [3, 4]
    resumed = torch.load(tmp_path / "to_fsdp" / "run" / "checkpoints" / "ckpt-0000004" /
                         "model.pt")
    assert max_diff(resumed, want) < ATOL
