"""Bits per byte per domain, checked against a brute-force loop over tokens."""

from __future__ import annotations

import math

import torch
from test_data import tokenized_source
from test_trainer import config, tiny_model

from curation.tokenize import TokenizedDataset
from train.config import StageConfig
from train.data import IGNORE
from train.evaluate import EvalSet
from train.model import Transformer
from train.trainer import Trainer


def brute_force_bpb(model, evals: EvalSet, name: str, window: int) -> float:
    """Row by row, ``window`` positions at a time, token by token."""
    inputs, labels, doc_ids = evals.rows(name)
    nats, tokens = 0.0, 0
    with torch.no_grad():
        for r in range(len(inputs)):
            for a in range(0, inputs.shape[1], window):
                logits, _ = model(inputs[r:r + 1, a:a + window],
                                  doc_ids=doc_ids[r:r + 1, a:a + window])
                for t in range(logits.shape[1]):
                    y = int(labels[r, a + t])
                    if y != IGNORE:
                        nats += float(torch.logsumexp(logits[0, t].double(), 0)
                                      - logits[0, t, y].double())
                        tokens += 1
    return nats / math.log(2) / (tokens * evals.sources[name].bytes_per_token)


def test_bits_per_byte_matches_brute_force_with_a_partial_last_batch(tmp_path, tokenizer_path):
    web = tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")
    info = TokenizedDataset(web).info
    torch.manual_seed(0)
    model = Transformer(tiny_model())
    evals = EvalSet({"web": web}, info, 32, max_rows=5, cache_dir=str(tmp_path / "cache"))
    got = evals.bits_per_byte(model, batch_rows=2)["web"]
    assert math.isclose(got, brute_force_bpb(model, evals, "web", 32), rel_tol=1e-5)


def test_eval_rows_longer_than_the_context_are_evaluated_in_pieces(tmp_path, tokenizer_path):
    """Evaluation rows are cut at the last stage's length; before a context-extension stage
    the model takes them in pieces of its current context (same tokens, same bytes)."""
    web = tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")
    info = TokenizedDataset(web).info
    torch.manual_seed(0)
    model = Transformer(tiny_model(max_seq_len=24))
    evals = EvalSet({"web": web}, info, 64, max_rows=3, cache_dir=str(tmp_path / "cache"))
    got = evals.bits_per_byte(model, batch_rows=2)["web"]
    assert math.isclose(got, brute_force_bpb(model, evals, "web", 24), rel_tol=1e-5)

    stages = [StageConfig("pretrain", {"web": web}, 2, seq_len=16),
              StageConfig("long", {"web": web}, 1, seq_len=96, schedule="constant",
                          rope_scaling={"kind": "theta", "theta": 1e5})]
    trainer = Trainer(config(tmp_path, {}, 0, stages=stages, eval_domains={"web": web},
                             eval_every=1, eval_rows=4))
    last = trainer.fit()  # evaluated at every step, before and after the extension
    assert trainer.step == 3 and last["eval_bpb"]["web"] > 0
