"""Data parallelism through torchrun on CPU (gloo): 2 ranks, with DDP or FSDP2, train what
1 rank trains, and checkpoints are interchangeable between FSDP and 1-process runs.

A 2-rank run with ``batch_rows`` B sees the same global batches as a 1-rank run with 2B (the
loader's rank slicing), and the loss is the token mean over the global batch, so the weights
agree up to float summation order: gradient all-reduce (or FSDP's reduce-scatter) adds in
another order than one process does, and AdamW can amplify such differences where a gradient
is near zero, so equality is checked within ``ATOL`` (absolute, on every weight), not bitwise.
Each test runs with AdamW and with Muon (whose Newton-Schulz step needs whole matrices: under
FSDP it gathers the sharded update).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
import yaml
from test_data import tokenized_source
from test_trainer import config, metrics

from train.config import StageConfig, TrainConfig
from train.optim import OptimConfig
from train.trainer import Trainer

ATOL = 1e-4  # max |w_2ranks - w_1rank| over all weights after 4 steps (AdamW lr 3e-3, Muon 0.02)
OPTIMIZERS = ["adamw", "muon"]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_config(path, cfg) -> str:
    """The config as YAML (through JSON, which turns tuples into lists)."""
    path.write_text(yaml.safe_dump(json.loads(json.dumps(cfg.to_dict()))))
    return str(path)


def run_config(path, stages, optim: str, tokenizer_path, **options) -> TrainConfig:
    """``config`` of ``stages`` with 2 micro-batches a step, trained with ``optim`` (lr 3e-3;
    Muon's matrices at its default 0.02)."""
    cfg = config(path, {}, 0, stages=stages, grad_accum=2, tokenizer_path=tokenizer_path,
                 **options)
    cfg.optim = OptimConfig(name=optim, lr=3e-3)
    return cfg


def two_rank_setup(tmp_path, tokenizer_path, optim: str,
                   **options) -> tuple[list[StageConfig], str]:
    """The stages (a weighted concat stage, then a best-fit stage at twice the length) and the
    YAML path of their 2-rank config: 2 ranks x 2 rows x 2 micro-batches, the global batch of
    1 rank x 4 rows x 2 micro-batches (``run_config`` with the same stages)."""
    web = tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")
    code = tokenized_source(tmp_path, "code", tokenizer_path, 100, "beta")
    stages = [StageConfig("main", {"web": web, "code": code}, 2, seq_len=32, warmup_steps=1,
                          weights={"web": 0.7, "code": 0.3}),
              StageConfig("long", {"web": web}, 2, seq_len=64, schedule="constant",
                          packing="best_fit")]
    two = run_config(tmp_path / "two", stages, optim, tokenizer_path, checkpoint_every=2,
                     eval_domains={"web": web}, eval_rows=4, **options)
    two.batch_rows, two.progress_every = 2, 1
    return stages, write_config(tmp_path / "two.yaml", two)


def torchrun(config_path: str) -> str:
    """Train ``config_path`` with 2 ranks under torchrun (fail the test with its output);
    returns what the ranks printed."""
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": REPO}
    env.pop("WORLD_SIZE", None)
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
         "--standalone", "-m", "train.cli", config_path],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


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
@pytest.mark.parametrize("optim", OPTIMIZERS)
def test_two_gloo_ranks_match_one_rank(tmp_path, tokenizer_path, optim):
    stages, path = two_rank_setup(tmp_path, tokenizer_path, optim)
    printed = torchrun(path)
    # rank 0 alone prints progress: one line per step (progress_every=1 here)
    assert [line.split("|")[0].strip() for line in printed.splitlines()
            if line.startswith("step ")] == [f"step {i}/4" for i in range(1, 5)]

    run = tmp_path / "two" / "run"
    lines = metrics(run)
    assert [r["step"] for r in lines if "ce" in r] == [1, 2, 3, 4]  # one writer: no duplicates
    ckpts = run / "checkpoints"
    assert (ckpts / "latest").read_text() == "ckpt-0000004"
    assert sorted(p.name for p in ckpts.iterdir()) == ["ckpt-0000002", "ckpt-0000004", "latest"]
    state = json.loads((ckpts / "ckpt-0000004" / "state.json").read_text())
    assert state["step"] == 4 and state["loader"]["packing"] == "best_fit"
    got = torch.load(ckpts / "ckpt-0000004" / "model.pt")

    one_cfg = run_config(tmp_path / "one", stages, optim, tokenizer_path)
    one = Trainer(one_cfg)
    one.fit()
    want = one.model.state_dict()
    assert set(got) == set(want)
    diff = max((got[k] - want[k]).abs().max().item() for k in want)
    assert diff < ATOL, diff
    moved = max((want[k] - Trainer(one_cfg).model.state_dict()[k]).abs().max().item()
                for k in want if k in got and not k.startswith("rope"))
    assert moved > 100 * ATOL  # training moved the weights far more than the tolerance
    # the logged losses are averaged over ranks: the same as the 1-rank run's
    ones = metrics(tmp_path / "one" / "run")
    for a, b in zip([r for r in lines if "ce" in r], ones, strict=True):
        assert a["ce"] == pytest.approx(b["ce"], abs=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("optim", OPTIMIZERS)
def test_fsdp_two_gloo_ranks_match_one_rank_and_share_checkpoints(tmp_path, tokenizer_path,
                                                                  optim):
    stages, path = two_rank_setup(tmp_path, tokenizer_path, optim, parallel="fsdp")
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

    one_cfg = run_config(tmp_path / "one", stages, optim, tokenizer_path, checkpoint_every=2)
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

    # a 1-process run resumes the FSDP run's step-2 checkpoint (weights and optimiser state)
    copy_checkpoint(run, "ckpt-0000002", tmp_path / "from_fsdp" / "run")
    from_fsdp = Trainer(run_config(tmp_path / "from_fsdp", stages, optim, tokenizer_path))
    from_fsdp.fit()
    assert [r["step"] for r in metrics(tmp_path / "from_fsdp" / "run")] == [3, 4]
    assert max_diff(from_fsdp.model.state_dict(), want) < ATOL

    # and an FSDP run resumes the 1-process run's step-2 checkpoint
    copy_checkpoint(tmp_path / "one" / "run", "ckpt-0000002", tmp_path / "to_fsdp" / "run")
    to_fsdp = run_config(tmp_path / "to_fsdp", stages, optim, tokenizer_path, parallel="fsdp")
    to_fsdp.batch_rows = 2
    torchrun(write_config(tmp_path / "to_fsdp.yaml", to_fsdp))
    assert [r["step"] for r in metrics(tmp_path / "to_fsdp" / "run")] == [3, 4]
    resumed = torch.load(tmp_path / "to_fsdp" / "run" / "checkpoints" / "ckpt-0000004" /
                         "model.pt")
    assert max_diff(resumed, want) < ATOL
