"""The swarm's proxy trainer on our transformer: ``curation.mixing.swarm.ProxyTrainer``, the
interface through which mixing trains proxies without importing ``train``."""

from __future__ import annotations

import os
import shutil

import torch

from curation.mixing.swarm import ProxyConfig
from curation.tokenize import TokenizedDataset
from train.config import StageConfig, TrainConfig
from train.data import open_source
from train.model import ModelConfig
from train.optim import OptimConfig
from train.trainer import Trainer


class TorchProxyTrainer:
    """Trains one tiny ``Trainer`` run per mixture (``ProxyConfig``: model size, steps, batch)
    with ``proxy.threads`` torch threads, and keeps only its metrics (no checkpoints)."""

    def prepare(self, directories: set[str], seq_len: int, cache_dir: str) -> None:
        """Export every source's ``.npy`` arrays once, in the driver, before tasks share them."""
        for d in sorted(directories):
            open_source(d, d, TokenizedDataset(d).info, seq_len, cache_dir,
                        filter_repetitive=False)

    def train(self, flat: dict[str, tuple[str, float]], eval_domains: dict[str, str],
              proxy: ProxyConfig, out_dir: str, cache_dir: str) -> dict[str, float]:
        torch.set_num_threads(proxy.threads)
        vocab = TokenizedDataset(next(iter(flat.values()))[0]).info.vocab_size
        model = ModelConfig(vocab_size=vocab, dim=proxy.dim, n_layers=proxy.n_layers,
                            n_heads=proxy.n_heads, n_kv_heads=proxy.n_kv_heads,
                            max_seq_len=proxy.seq_len)
        stage = StageConfig("proxy", {k: d for k, (d, _) in flat.items()}, proxy.steps,
                            weights={k: w for k, (_, w) in flat.items()}, seq_len=proxy.seq_len,
                            warmup_steps=proxy.warmup_steps)
        cfg = TrainConfig(model=model, stages=[stage], out_dir=out_dir,
                          optim=OptimConfig(lr=proxy.lr), batch_rows=proxy.batch_rows,
                          seed=proxy.seed, eval_domains=dict(eval_domains),
                          eval_rows=proxy.eval_rows, cache_dir=cache_dir, keep_checkpoints=1)
        record = Trainer(cfg).fit()
        shutil.rmtree(os.path.join(out_dir, "checkpoints"), ignore_errors=True)
        return {k: float(v) for k, v in record["eval_bpb"].items()}
