"""The training loop: stages of data mixes run back to back, metrics, evaluation, checkpoints.

A run is a ``TrainConfig``: the model, the optimiser, and a list of ``StageConfig`` (each with
its mix of tokenized sources, step budget, sequence length and LR schedule). The loop:

- builds the model with the seed, the optimiser (AdamW or Muon), and one ``MixtureLoader`` per
  stage (seeded with ``seed + stage index``), switching at stage boundaries;
- per step: ``grad_accum`` micro-batches (bf16 autocast on CUDA, fp32 on CPU), gradient
  clipping, the LR of the stage's schedule (a multiplier on the optimiser's base LRs), an
  optimiser step, the MoE balancing-bias update;
- writes ``metrics.jsonl`` (loss, ce, z-loss, MoE aux, grad norm, LR, tokens/s, MFU from
  ``flops_per_token``; eval BPB per domain at intervals);
- checkpoints atomically (``ckpt-<step>/`` written under a temporary name, then renamed, then
  ``latest`` updated): model, optimiser, step. The schedule and the loader are pure functions
  of the step (the loader's state is recorded for inspection). A rerun with the same config
  resumes from the latest checkpoint and reaches bitwise the same weights as an uninterrupted
  run (on CPU).

Data parallelism: launched by ``torchrun`` (``WORLD_SIZE`` > 1), ranks wrap the model in DDP
(gloo on CPU, NCCL on CUDA) and each loads its slice of every global batch. Each micro-batch's
loss is weighted by its share of the step's labelled tokens over all ranks and micro-batches
(one all-reduce of the count per step), so the gradient is the token mean over the global batch
whatever the world size or ``grad_accum`` (exactly for CE and z-loss, which are token means;
the MoE sequence-wise aux loss gets the same weights): a W-rank run with ``batch_rows`` B
matches a 1-rank run with ``batch_rows`` W*B up to float summation order (tested with 2 gloo
ranks on CPU). Rank 0 alone writes metrics and checkpoints and exports the ``.npy`` cache first
(the others wait at a barrier, then read it); every rank loads the same checkpoint after a
barrier. Logged losses are averaged over ranks. DDP syncs buffers only at construction, not at
every forward: the RoPE tables are functions of the config, MoE biases are updated on every
rank from all-reduced expert loads, and the per-rank expert-load counters must not be
overwritten by rank 0's.

With ``parallel: fsdp`` the ranks shard the model with FSDP2 instead (``fully_shard`` on every
transformer block, then on the root; bf16 parameters with fp32 gradient reduction on CUDA, fp32
on CPU): parameters, gradients and optimiser state become DTensors sharded over the ranks. The
model code is unaware of it: parallelism lives here. Micro-batches before the last of a step
accumulate unsharded gradients without reduce-scatter or resharding; the gradient norm is
computed over the sharded gradients (one all-reduce). The loss weights are the DDP ones (the
reduce-scatter averages over ranks too), so an FSDP run matches a 1-rank run as DDP does.

Checkpoints are full (unsharded) state dicts whatever the parallelism, gathered onto rank 0's
CPU by ``torch.distributed.checkpoint.state_dict`` and keyed by parameter name (the optimiser
state too), so a 1-rank, DDP or FSDP run resumes any of their checkpoints; every rank reads the
files and keeps its shard.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal, TypeVar

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor

from curation.tokenize import TokenizedDataset
from train import schedule
from train.configfile import parse_section
from train.data import IGNORE, MixtureLoader, Packing, pad_id_of
from train.evaluate import EvalSet
from train.model import ModelConfig, RopeScaling, Transformer, flops_per_token
from train.optim import OptimConfig, build_optimizer, clip_grad_norm, set_lr_scale

T = TypeVar("T")
Parallel = Literal["ddp", "fsdp"]
PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense bf16 FLOP/s


@dataclass
class StageConfig:
    """One stage of training. ``lr_scale`` multiplies the optimiser's base LRs at the peak;
    ``schedule`` is wsd, cosine, linear_to_zero or constant. ``seq_len`` above the model's
    ``max_seq_len`` with ``rope_scaling`` set makes a context-extension stage (the RoPE of
    full-attention layers is rescaled, windowed layers keep theirs)."""

    name: str
    sources: dict[str, str]  # source name -> tokenized output directory
    steps: int
    weights: dict[str, float] | None = None
    seq_len: int = 256
    lr_scale: float = 1.0
    schedule: str = "wsd"
    warmup_steps: int = 0
    decay_fraction: float = 0.2
    # RopeScaling's fields, kept as a mapping ("schema": what the config file is checked against)
    rope_scaling: dict | None = field(default=None, metadata={"schema": RopeScaling})
    packing: Packing = "concat"  # "best_fit": whole documents per row, padded (see train.data)


@dataclass
class TrainConfig:
    """A training run (module docstring); ``batch_rows`` is per rank and micro-batch."""

    model: ModelConfig
    stages: list[StageConfig]
    out_dir: str
    optim: OptimConfig = field(default_factory=OptimConfig)
    batch_rows: int = 8  # per rank, per micro-batch
    grad_accum: int = 1
    grad_clip: float = 1.0
    seed: int = 0
    eval_domains: dict[str, str] = field(default_factory=dict)
    eval_every: int = 0  # steps; 0: only at the end
    eval_rows: int = 32
    checkpoint_every: int = 0  # steps; 0: only at the end
    keep_checkpoints: int = 2
    cache_dir: str = "runs/cache/npy"
    log_every: int = 1
    tokenizer_path: str | None = None  # tokenizer.json, for the PAD id of best-fit rows
    parallel: Parallel = "ddp"  # with WORLD_SIZE > 1: "ddp" (replicas) or "fsdp" (FSDP2 shards)

    @property
    def total_steps(self) -> int:
        return sum(s.steps for s in self.stages)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> TrainConfig:
        """A config from its parsed YAML / JSON (or `to_dict`) form: nested sections become
        their dataclasses. Raises ValueError naming `source` and every problem: unknown keys
        (with the closest valid key), missing keys, values of the wrong type, and the
        sections' own checks (e.g. ``model.moe: top_k=3 must be in [1, n_experts=2]``)."""
        problems: list[str] = []
        cfg = parse_section(d, cls, "", problems)
        if len(problems) == 1:
            raise ValueError(f"{source}: {problems[0]}")
        if problems:
            raise ValueError(f"{source}: {len(problems)} problems:\n"
                             + "\n".join(f"  {p}" for p in problems))
        return cfg

    @classmethod
    def from_file(cls, path: str) -> TrainConfig:
        """`from_dict` of a YAML (``.yaml``, ``.yml``) or JSON file; errors name the file."""
        with open(path) as f:
            text = f.read()
        if path.endswith((".yaml", ".yml")):
            import yaml

            try:
                raw = yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise ValueError(f"{path}: not valid YAML: {e}") from None
        else:
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: not valid JSON: {e}") from None
        return cls.from_dict(raw, source=path)


def lr_multiplier(stage: StageConfig, step: int) -> float:
    """The LR multiplier at ``step`` of ``stage`` (0-based within the stage)."""
    common = {"total_steps": stage.steps, "warmup_steps": stage.warmup_steps}
    if stage.schedule == "wsd":
        return schedule.wsd(step, max_lr=stage.lr_scale, decay_fraction=stage.decay_fraction,
                            **common)
    if stage.schedule == "cosine":
        return schedule.cosine(step, max_lr=stage.lr_scale, **common)
    if stage.schedule == "linear_to_zero":
        return schedule.linear_to_zero(step, start_lr=stage.lr_scale, **common)
    if stage.schedule == "constant":
        return stage.lr_scale
    raise ValueError(f"unknown schedule {stage.schedule!r}")


def _device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


class Trainer:
    def __init__(self, config: TrainConfig):
        self.cfg = config
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = _device()
        if self.world_size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.tokenizer = TokenizedDataset(next(iter(config.stages[0].sources.values()))).info
        if config.model.vocab_size < self.tokenizer.vocab_size:
            raise ValueError(f"model vocab_size {config.model.vocab_size} is below the "
                             f"tokenizer's {self.tokenizer.vocab_size}")
        if config.parallel not in ("ddp", "fsdp"):
            raise ValueError(f"unknown parallel {config.parallel!r}; expected 'ddp' or 'fsdp'")
        torch.manual_seed(config.seed)
        # the context the model is built with: stages' context extensions are replayed from it
        self._base_context = (config.model.max_seq_len, config.model.rope_scaling)
        self.model = Transformer(config.model).to(self.device)
        self.fsdp = config.parallel == "fsdp" and self.world_size > 1
        # what the loop calls forward on: DDP's wrapper, or the model (sharded in place by FSDP)
        self.wrapped: torch.nn.Module = self.model
        if self.fsdp:
            self._shard()
        elif self.world_size > 1:
            self.wrapped = torch.nn.parallel.DistributedDataParallel(
                self.model, forward_sync_buffers=False)
        self.optimizer = build_optimizer(self.model, config.optim)
        self.step = 0
        self.pad_id = pad_id_of(config.tokenizer_path, self.tokenizer)
        self.evals = (self._rank0_first(lambda: EvalSet(
            config.eval_domains, self.tokenizer, config.stages[-1].seq_len, config.eval_rows,
            config.cache_dir)) if config.eval_domains else None)
        self._loader: tuple[int, MixtureLoader] | None = None

    def _shard(self) -> None:
        """FSDP2: ``fully_shard`` each transformer block, then the root (embedding, final norm,
        head). Called before the optimiser is built, whose parameters become DTensors."""
        mp = (MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
              if self.device.type == "cuda" else MixedPrecisionPolicy())
        for block in self.model.blocks:
            fully_shard(block, mp_policy=mp)
        # the root's parameters are needed again at once by the backward: keep them gathered
        fully_shard(self.model, mp_policy=mp, reshard_after_forward=False)

    def _barrier(self) -> None:
        """Wait for every rank (a no-op in a 1-rank run)."""
        if self.world_size > 1:
            dist.barrier()

    def _rank0_first(self, build: Callable[[], T]) -> T:
        """``build()`` on rank 0, then on the other ranks once it is done (so shared caches,
        such as the ``.npy`` exports, are written by one process only)."""
        if self.rank == 0:
            out = build()
        self._barrier()
        if self.rank != 0:
            out = build()
        return out

    # -- stages and data ----------------------------------------------------------------------
    def stage_at(self, step: int) -> tuple[int, int]:
        """(stage index, step within it) of global ``step``."""
        for i, s in enumerate(self.cfg.stages):
            if step < s.steps:
                return i, step
            step -= s.steps
        raise IndexError("step past the last stage")

    def loader(self, index: int, step_in_stage: int) -> MixtureLoader:
        if self._loader is None or self._loader[0] != index:
            s = self.cfg.stages[index]
            # the context of stage ``index`` follows from every stage up to it (not only from
            # the stages this process has run: a resumed run starts in the middle)
            context = self._base_context
            for earlier in self.cfg.stages[:index + 1]:
                if earlier.rope_scaling is not None or earlier.seq_len > context[0]:
                    context = (max(earlier.seq_len, context[0]),
                               RopeScaling(**earlier.rope_scaling) if earlier.rope_scaling
                               else None)
            if context != (self.model.cfg.max_seq_len, self.model.cfg.rope_scaling):
                self.model.set_context(*context)
            loader = self._rank0_first(lambda: MixtureLoader(
                s.sources, s.weights, self.tokenizer, s.seq_len,
                self.cfg.batch_rows * self.cfg.grad_accum, seed=self.cfg.seed + index,
                rank=self.rank, world_size=self.world_size, cache_dir=self.cfg.cache_dir,
                packing=s.packing, pad_id=self.pad_id))
            self._loader = (index, loader)
        self._loader[1].step = step_in_stage
        return self._loader[1]

    # -- checkpoints --------------------------------------------------------------------------
    @property
    def ckpt_root(self) -> str:
        return os.path.join(self.cfg.out_dir, "checkpoints")

    _FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)

    def save(self) -> str:
        """Write ``ckpt-<step>/`` atomically and point ``latest`` at it (every rank calls it:
        the full state dicts are gathered onto rank 0, which alone writes)."""
        path = os.path.join(self.ckpt_root, f"ckpt-{self.step:07d}")
        model_state = get_model_state_dict(self.model, options=self._FULL)
        optim_state = get_optimizer_state_dict(self.model, self.optimizer, options=self._FULL)
        if self.rank == 0:
            tmp = path + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            torch.save(model_state, os.path.join(tmp, "model.pt"))
            torch.save(optim_state, os.path.join(tmp, "optim.pt"))
            with open(os.path.join(tmp, "state.json"), "w") as f:
                json.dump({"step": self.step, "config": self.cfg.to_dict(),
                           "tokenizer": self.tokenizer.to_dict(),
                           "loader": self._loader[1].state_dict() if self._loader else None},
                          f, indent=2)
            shutil.rmtree(path, ignore_errors=True)
            os.replace(tmp, path)
            with open(os.path.join(self.ckpt_root, "latest.tmp"), "w") as f:
                f.write(os.path.basename(path))
            os.replace(os.path.join(self.ckpt_root, "latest.tmp"),
                       os.path.join(self.ckpt_root, "latest"))
            old = sorted(n for n in os.listdir(self.ckpt_root)
                         if n.startswith("ckpt-") and not n.endswith(".tmp"))
            for name in old[: -self.cfg.keep_checkpoints]:
                shutil.rmtree(os.path.join(self.ckpt_root, name))
        if self.world_size > 1:
            dist.barrier()
        return path

    def load(self, path: str, optimizer: bool = True) -> None:
        """Load weights (and optimiser state and step) from ``path`` on every rank."""
        with open(os.path.join(path, "state.json")) as f:
            state = json.load(f)
        self.tokenizer.check(type(self.tokenizer).from_dict(state["tokenizer"]), path)
        full = StateDictOptions(full_state_dict=True)
        if optimizer:
            # before the weights: a fresh optimiser's state is first made by a zero-LR step
            optim_state = torch.load(os.path.join(path, "optim.pt"), map_location="cpu")
            if all(isinstance(k, str) for k in optim_state["state"]):
                set_optimizer_state_dict(self.model, self.optimizer, optim_state, options=full)
            elif self.fsdp:
                raise ValueError(f"{path}: optimiser state keyed by index (an older checkpoint)"
                                 " cannot be loaded into an FSDP run")
            else:  # an older checkpoint: ``optimizer.state_dict()``, keyed by parameter index
                self.optimizer.load_state_dict(optim_state)
        set_model_state_dict(self.model, torch.load(os.path.join(path, "model.pt"),
                                                    map_location="cpu"), options=full)
        if optimizer:
            self.step = state["step"]

    def resume(self) -> bool:
        """Load the latest checkpoint, if any, and forget metrics logged after it."""
        latest = os.path.join(self.ckpt_root, "latest")
        self._barrier()  # no rank looks for a checkpoint another is still writing
        if not os.path.exists(latest):
            return False
        with open(latest) as f:
            self.load(os.path.join(self.ckpt_root, f.read().strip()))
        metrics = os.path.join(self.cfg.out_dir, "metrics.jsonl")
        if self.rank == 0 and os.path.exists(metrics):
            with open(metrics) as f:
                kept = [line for line in f if json.loads(line)["step"] <= self.step]
            with open(metrics + ".tmp", "w") as f:
                f.writelines(kept)
            os.replace(metrics + ".tmp", metrics)
        self._barrier()
        return True

    # -- the loop -----------------------------------------------------------------------------
    def _log(self, record: dict) -> None:
        if self.rank == 0:
            os.makedirs(self.cfg.out_dir, exist_ok=True)
            with open(os.path.join(self.cfg.out_dir, "metrics.jsonl"), "a") as f:
                f.write(json.dumps(record) + "\n")

    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_step(self) -> dict:
        index, in_stage = self.stage_at(self.step)
        stage = self.cfg.stages[index]
        batch = self.loader(index, in_stage).batch(in_stage)
        scale = lr_multiplier(stage, in_stage)
        set_lr_scale(self.optimizer, scale)
        t0 = time.perf_counter()
        keys = ("loss", "ce", "z_loss", "moe_aux")
        rows = self.cfg.batch_rows
        # labelled tokens per micro-batch; the step's total over ranks normalises the loss
        counts = (batch["labels"] != IGNORE).reshape(self.cfg.grad_accum, -1).sum(1).double()
        total = counts.sum().to(self.device)
        if self.world_size > 1:
            dist.all_reduce(total)
        total_tokens = max(1.0, float(total))
        sums = torch.zeros(len(keys), dtype=torch.float64)
        for micro in range(self.cfg.grad_accum):
            sl = slice(micro * rows, (micro + 1) * rows)
            sync = (self.world_size == 1 or micro == self.cfg.grad_accum - 1)
            ctx = self._no_sync() if not sync else contextlib.nullcontext()
            # DDP (and FSDP's reduce-scatter) average gradients over ranks, hence the world size
            # in the weight; with one rank and one micro-batch the weight is exactly 1
            weight = float(counts[micro]) * self.world_size / total_tokens
            with ctx, self._autocast():
                _, losses = self.wrapped(batch["input_ids"][sl].to(self.device),
                                     doc_ids=batch["doc_ids"][sl].to(self.device),
                                     labels=batch["labels"][sl].to(self.device),
                                     return_logits=False)
                (losses["loss"] * weight).backward()
            if counts[micro] > 0:  # no labelled token: NaN losses (means over nothing), weight 0
                sums += torch.tensor([losses[k].item() for k in keys], dtype=torch.float64) * \
                    float(counts[micro])
        if self.world_size > 1:
            sums = sums.to(self.device)
            dist.all_reduce(sums)
        totals = dict(zip(keys, (sums.cpu() / total_tokens).tolist(), strict=True))
        grad_norm = self._clip_grad_norm()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        loads = self.model.update_moe_biases()
        self.step += 1
        seconds = time.perf_counter() - t0
        tokens = batch["input_ids"].numel() * self.world_size
        record = {"step": self.step, "stage": stage.name, **totals,
                  "grad_norm": float(grad_norm), "lr_scale": scale,
                  "tokens_per_s": tokens / seconds, "mfu": self._mfu(tokens / seconds,
                                                                     stage.seq_len)}
        if loads:
            record["moe_load"] = [(n.float() / max(1, n.sum())).tolist() for n in loads]
        return record

    @contextlib.contextmanager
    def _no_sync(self):
        """Gradients of the micro-batches in this context are accumulated locally: DDP skips
        its all-reduce; FSDP skips its reduce-scatter and keeps the blocks unsharded until
        the step's last backward (both restored on exit)."""
        if not self.fsdp:
            with self.wrapped.no_sync():
                yield
            return
        model = self.model
        assert isinstance(model, FSDPModule)
        model.set_requires_gradient_sync(False)
        model.set_reshard_after_backward(False)
        try:
            yield
        finally:
            model.set_requires_gradient_sync(True)
            model.set_reshard_after_backward(True)

    def _clip_grad_norm(self) -> torch.Tensor:
        """``clip_grad_norm`` with ``grad_clip``; under FSDP the total norm of the sharded
        gradients (DTensors) is all-reduced to a plain tensor before scaling the shards."""
        if not self.fsdp:
            return clip_grad_norm(self.model.parameters(), self.cfg.grad_clip)
        params = [p for p in self.model.parameters() if p.grad is not None]
        norm = torch.nn.utils.get_total_norm([p.grad for p in params], foreach=True)
        if isinstance(norm, DTensor):
            norm = norm.full_tensor()
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grads_with_norm_(params, self.cfg.grad_clip, norm, foreach=True)
        return norm

    def _mfu(self, tokens_per_s: float, seq_len: int) -> float | None:
        if self.device.type != "cuda":
            return None
        name = torch.cuda.get_device_name(self.device)
        peak = next((v for k, v in PEAK_FLOPS.items() if k in name), None)
        if peak is None:
            return None
        return flops_per_token(self.model.cfg, seq_len) * tokens_per_s / self.world_size / peak

    def evaluate(self) -> dict[str, float]:
        if self.evals is None:
            return {}
        out = self.evals.bits_per_byte(self.model, self.cfg.batch_rows, self.device)
        if self.fsdp:
            self.model.reshard()  # the root stays gathered after a forward with no backward
        return out

    def fit(self) -> dict:
        """Train to the end (resuming if a checkpoint exists); returns the last metrics."""
        self.resume()
        record: dict = {}
        total = self.cfg.total_steps
        while self.step < total:
            record = self.train_step()
            last = self.step == total
            if self.cfg.eval_every and (self.step % self.cfg.eval_every == 0 or last):
                record["eval_bpb"] = self.evaluate()
            if last or self.step % self.cfg.log_every == 0:
                self._log(record)
            if last or (self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0):
                self.save()
        if self.evals is not None and "eval_bpb" not in record:
            record["eval_bpb"] = self.evaluate()
            self._log({"step": self.step, "eval_bpb": record["eval_bpb"]})
        return record


def main(argv: list[str] | None = None) -> int:
    """``python -m train.trainer CONFIG.yaml`` (or under ``torchrun``)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m train.trainer CONFIG.(yaml|json)", file=sys.stderr)
        return 2
    try:
        cfg = TrainConfig.from_file(argv[0])
    except (OSError, ValueError) as e:  # a missing or invalid config: no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    record = Trainer(cfg).fit()
    print(json.dumps({k: v for k, v in record.items() if not isinstance(v, list)}))
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
