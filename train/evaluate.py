"""Bits per byte on held-out tokenized data, per evaluation domain.

``bpb = sum of next-token cross-entropy (nats) / ln 2 / bytes``, where the bytes of the
evaluated tokens are ``tokens x (text bytes / tokens)`` of the domain's manifest: a ratio that
makes models with different tokenizers comparable. Each domain is evaluated on the same
instances every time (the first ``max_rows`` of the source, unshuffled), with document masking.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from curation.tokenize import TokenizerInfo
from train.data import IGNORE, Source, open_source


class EvalSet:
    """Held-out domains: name -> tokenized output directory."""

    def __init__(self, domains: dict[str, str], tokenizer: TokenizerInfo, seq_len: int,
                 max_rows: int = 64, cache_dir: str = "runs/cache/npy"):
        self.sources: dict[str, Source] = {
            name: open_source(name, path, tokenizer, seq_len, cache_dir, filter_repetitive=False)
            for name, path in sorted(domains.items())
        }
        self.eos, self.seq_len, self.max_rows = tokenizer.eos_id, seq_len, max_rows

    def rows(self, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Inputs, labels and document ids of a domain's evaluation rows."""
        src = self.sources[name]
        n = min(self.max_rows, len(src.instances))
        chunk = np.stack([src.tokens(i, self.seq_len + 1) for i in range(n)])
        inputs, labels = chunk[:, :-1], chunk[:, 1:].copy()
        ends = inputs == self.eos
        labels[ends] = IGNORE
        doc_ids = np.cumsum(np.concatenate([np.zeros((n, 1), bool), ends[:, :-1]], 1), 1)
        return (torch.from_numpy(inputs.copy()), torch.from_numpy(labels),
                torch.from_numpy(doc_ids.astype(np.int64)))

    @torch.no_grad()
    def bits_per_byte(self, model: torch.nn.Module, batch_rows: int = 8,
                      device: str | torch.device = "cpu") -> dict[str, float]:
        """BPB of ``model`` on every domain (model put in eval mode, then restored).

        Rows longer than the model's context (``model.cfg.max_seq_len``: evaluation rows have
        the last stage's length, which a context-extension stage reaches only at the end) are
        evaluated in consecutive pieces of that context: the same labelled tokens and bytes."""
        was_training = model.training
        model.eval()
        out = {}
        context = getattr(getattr(model, "cfg", None), "max_seq_len", None) or self.seq_len
        for name, src in self.sources.items():
            inputs, labels, doc_ids = self.rows(name)
            nats, tokens = 0.0, 0
            for i in range(0, len(inputs), batch_rows):
                for a in range(0, inputs.shape[1], context):
                    sl = (slice(i, i + batch_rows), slice(a, a + context))
                    logits, _ = model(inputs[sl].to(device), doc_ids=doc_ids[sl].to(device))
                    lab = labels[sl].to(device)
                    nats += F.cross_entropy(logits.flatten(0, 1).float(), lab.flatten(),
                                            ignore_index=IGNORE, reduction="sum").item()
                    tokens += int((lab != IGNORE).sum())
            out[name] = nats / math.log(2) / (tokens * src.bytes_per_token)
        model.train(was_training)
        return out
