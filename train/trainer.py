"""The training loop: stages of data mixes run back to back, metrics, evaluation, checkpoints.

A run is a `train.config.TrainConfig`: the model, the optimiser, and a list of ``StageConfig``
(each with its mix of tokenized sources, step budget, sequence length and LR schedule). The
loop:

- builds the model with the seed, spreads it over the ranks (`train.parallel`), builds the
  optimiser (AdamW or Muon) and one ``MixtureLoader`` per stage (seeded with ``seed + stage
  index``), switching at stage boundaries;
- per step: ``grad_accum`` micro-batches (bf16 autocast on CUDA, fp32 on CPU), gradient
  clipping, the LR of the stage's schedule (a multiplier on the optimiser's base LRs), an
  optimiser step, the MoE balancing-bias update;
- writes ``metrics.jsonl`` (loss, ce, z-loss, MoE aux, grad norm, LR, tokens/s, MFU from
  ``flops_per_token``; eval BPB per domain at intervals) and the same records to TensorBoard
  or W&B where ``loggers`` names them (``train.loggers``); prints a progress line every
  ``progress_every`` steps on rank 0 (``train.progress``);
- checkpoints (`train.checkpoint`): model, optimiser, step. The schedule and the loader are
  pure functions of the step (the loader's state is recorded for inspection). A rerun with the
  same config resumes from the latest checkpoint and reaches bitwise the same weights as an
  uninterrupted run (on CPU).

With several ranks each loads its slice of every global batch. Each micro-batch's loss is
weighted by its share of the step's labelled tokens over all ranks and micro-batches (one
all-reduce of the count per step), so the gradient is the token mean over the global batch
whatever the world size or ``grad_accum`` (exactly for CE and z-loss, which are token means;
the MoE sequence-wise aux loss gets the same weights): a W-rank run with ``batch_rows`` B
matches a 1-rank run with ``batch_rows`` W*B up to float summation order (tested with 2 gloo
ranks on CPU, DDP and FSDP). Rank 0 alone writes metrics and checkpoints and exports the
``.npy`` cache first (the others wait at a barrier, then read it); every rank loads the same
checkpoint after a barrier. Logged losses are averaged over ranks.
"""

from __future__ import annotations

import contextlib
import json
import os
import time

import torch

from curation.tokenize import TokenizedDataset
from train import checkpoint
from train.config import TrainConfig
from train.data import IGNORE, MixtureLoader, pad_id_of
from train.evaluate import EvalSet
from train.loggers import Loggers
from train.model import RopeScaling, Transformer, flops_per_token
from train.optim import build_optimizer, set_lr_scale
from train.parallel import World, clip_gradients, no_sync, parallelize, reshard
from train.progress import Progress
from train.schedule import lr_multiplier

PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense bf16 FLOP/s
LOSSES = ("loss", "ce", "z_loss", "moe_aux")  # logged as token means over the global batch


class Trainer:
    """One run of a `TrainConfig` in this process (one rank of it under ``torchrun``)."""

    def __init__(self, config: TrainConfig):
        self.cfg = config
        self.world = World.join()
        self.tokenizer = TokenizedDataset(next(iter(config.stages[0].sources.values()))).info
        if config.model.vocab_size < self.tokenizer.vocab_size:
            raise ValueError(f"model vocab_size {config.model.vocab_size} is below the "
                             f"tokenizer's {self.tokenizer.vocab_size}")
        torch.manual_seed(config.seed)
        # the context the model is built with: stages' context extensions are replayed from it
        self._base_context = (config.model.max_seq_len, config.model.rope_scaling)
        self.model = Transformer(config.model).to(self.world.device)
        # what the loop calls forward on: DDP's wrapper, or the model (sharded in place by FSDP)
        self.wrapped = parallelize(self.model, self.world, config.parallel)
        self.optimizer = build_optimizer(self.model, config.optim)
        self.step = 0
        self.pad_id = pad_id_of(config.tokenizer_path, self.tokenizer)
        self.evals = (self.world.rank0_first(lambda: EvalSet(
            config.eval_domains, self.tokenizer, config.stages[-1].seq_len, config.eval_rows,
            config.cache_dir)) if config.eval_domains else None)
        self._loader: tuple[int, MixtureLoader] | None = None

    def loader(self, index: int, step_in_stage: int) -> MixtureLoader:
        """The loader of stage ``index`` at ``step_in_stage``, the model set to its context."""
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
            loader = self.world.rank0_first(lambda: MixtureLoader(
                s.sources, s.weights, self.tokenizer, s.seq_len,
                self.cfg.batch_rows * self.cfg.grad_accum, seed=self.cfg.seed + index,
                rank=self.world.rank, world_size=self.world.size, cache_dir=self.cfg.cache_dir,
                packing=s.packing, pad_id=self.pad_id))
            self._loader = (index, loader)
        self._loader[1].step = step_in_stage
        return self._loader[1]

    # -- checkpoints --------------------------------------------------------------------------
    @property
    def ckpt_root(self) -> str:
        return os.path.join(self.cfg.out_dir, "checkpoints")

    def save(self) -> str:
        """Checkpoint the current step (every rank calls it); returns its path."""
        state = {"config": self.cfg.to_dict(), "tokenizer": self.tokenizer.to_dict(),
                 "loader": self._loader[1].state_dict() if self._loader else None}
        return checkpoint.save(self.ckpt_root, self.step, self.model, self.optimizer, state,
                               self.world, self.cfg.keep_checkpoints)

    def load(self, path: str, optimizer: bool = True) -> None:
        """Load weights (and optimiser state and step) from ``path`` on every rank."""
        state = checkpoint.read_state(path)
        self.tokenizer.check(type(self.tokenizer).from_dict(state["tokenizer"]), path)
        checkpoint.load(path, self.model, self.optimizer if optimizer else None)
        if optimizer:
            self.step = state["step"]

    def resume(self) -> bool:
        """Load the latest checkpoint, if any, and forget metrics logged after it."""
        self.world.barrier()  # no rank looks for a checkpoint another is still writing
        path = checkpoint.latest(self.ckpt_root)
        if path is None:
            return False
        self.load(path)
        metrics = os.path.join(self.cfg.out_dir, "metrics.jsonl")
        if self.world.rank == 0 and os.path.exists(metrics):
            with open(metrics) as f:
                kept = [line for line in f if json.loads(line)["step"] <= self.step]
            with open(metrics + ".tmp", "w") as f:
                f.writelines(kept)
            os.replace(metrics + ".tmp", metrics)
        self.world.barrier()
        return True

    # -- the loop -----------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.world.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_step(self) -> dict:
        """One optimiser step over ``grad_accum`` micro-batches; returns its metrics record."""
        index, in_stage = self.cfg.stage_at(self.step)
        stage = self.cfg.stages[index]
        batch = self.loader(index, in_stage).batch(in_stage)
        scale = lr_multiplier(stage, in_stage)
        set_lr_scale(self.optimizer, scale)
        t0 = time.perf_counter()
        rows, device, world_size = self.cfg.batch_rows, self.world.device, self.world.size
        # labelled tokens per micro-batch; the step's total over ranks normalises the loss
        counts = (batch["labels"] != IGNORE).reshape(self.cfg.grad_accum, -1).sum(1).double()
        total_tokens = max(1.0, float(self.world.sum(counts.sum())))
        sums = torch.zeros(len(LOSSES), dtype=torch.float64)
        for micro in range(self.cfg.grad_accum):
            sl = slice(micro * rows, (micro + 1) * rows)
            last = micro == self.cfg.grad_accum - 1
            # DDP (and FSDP's reduce-scatter) average gradients over ranks, hence the world size
            # in the weight; with one rank and one micro-batch the weight is exactly 1
            weight = float(counts[micro]) * world_size / total_tokens
            ctx = contextlib.nullcontext() if last else no_sync(self.wrapped)
            with ctx, self._autocast():
                _, losses = self.wrapped(batch["input_ids"][sl].to(device),
                                         doc_ids=batch["doc_ids"][sl].to(device),
                                         labels=batch["labels"][sl].to(device),
                                         return_logits=False)
                (losses["loss"] * weight).backward()
            if counts[micro] > 0:  # no labelled token: NaN losses (means over nothing), weight 0
                sums += torch.tensor([losses[k].item() for k in LOSSES], dtype=torch.float64) * \
                    float(counts[micro])
        sums = self.world.sum(sums)
        totals = dict(zip(LOSSES, (sums.cpu() / total_tokens).tolist(), strict=True))
        grad_norm = clip_gradients(self.model, self.cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        loads = self.model.update_moe_biases()
        self.step += 1
        seconds = time.perf_counter() - t0
        tokens = batch["input_ids"].numel() * world_size
        record = {"step": self.step, "stage": stage.name, **totals,
                  "grad_norm": float(grad_norm), "lr_scale": scale,
                  "lr": self.optimizer.param_groups[0]["lr"],
                  "tokens_per_s": tokens / seconds, "mfu": self._mfu(tokens / seconds,
                                                                     stage.seq_len)}
        if loads:
            record["moe_load"] = [(n.float() / max(1, n.sum())).tolist() for n in loads]
        return record

    def _mfu(self, tokens_per_s: float, seq_len: int) -> float | None:
        """Model FLOPs utilisation of one GPU; None on CPU or an unlisted GPU."""
        if self.world.device.type != "cuda":
            return None
        name = torch.cuda.get_device_name(self.world.device)
        peak = next((v for k, v in PEAK_FLOPS.items() if k in name), None)
        if peak is None:
            return None
        return flops_per_token(self.model.cfg, seq_len) * tokens_per_s / self.world.size / peak

    def evaluate(self) -> dict[str, float]:
        """Bits per byte per eval domain ({} without eval domains)."""
        if self.evals is None:
            return {}
        out = self.evals.bits_per_byte(self.model, self.cfg.batch_rows, self.world.device)
        reshard(self.model)  # an FSDP root stays gathered after a forward with no backward
        return out

    def fit(self) -> dict:
        """Train to the end (resuming if a checkpoint exists); returns the last metrics."""
        self.resume()
        record: dict = {}
        total = self.cfg.total_steps
        every = self.cfg.progress_every if self.world.rank == 0 else 0
        progress = Progress(total, every, start_step=self.step)
        loggers = Loggers(self.cfg, self.step) if self.world.rank == 0 else Loggers()
        try:
            while self.step < total:
                record = self.train_step()
                last = self.step == total
                if self.cfg.eval_every and (self.step % self.cfg.eval_every == 0 or last):
                    record["eval_bpb"] = self.evaluate()
                progress.update(record)
                if last or self.step % self.cfg.log_every == 0:
                    loggers.log(record)
                if last or (self.cfg.checkpoint_every
                            and self.step % self.cfg.checkpoint_every == 0):
                    self.save()
            if self.evals is not None and "eval_bpb" not in record:
                record["eval_bpb"] = self.evaluate()
                loggers.log({"step": self.step, "eval_bpb": record["eval_bpb"]})
        finally:
            loggers.close()
        return record
