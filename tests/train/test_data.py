"""The training loader: deterministic order, exact resume, rank slicing, boundaries, filters."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from corpora import write_jsonl

from curation import Pipeline, read
from curation.tokenize import Tokenize, TokenizedDataset, TokenizerMismatch
from train.data import IGNORE, MixtureLoader, is_repetitive


def tokenized_source(root, name: str, tokenizer: str, docs: int, word: str) -> str:
    os.makedirs(root / name, exist_ok=True)
    write_jsonl(root / name / "in.jsonl",
                [{"text": f"{word} number {i} says {word} {i * 7} times."} for i in range(docs)])
    p = Pipeline(name, str(root / f"w-{name}"))
    p.sink(p.source(read(str(root / name / "in.jsonl"), source=name)) >> Tokenize(tokenizer),
           str(root / f"out-{name}"))
    p.run(progress=False)
    return str(root / f"out-{name}")


@pytest.fixture
def sources(tmp_path, tokenizer_path):
    return {"web": tokenized_source(tmp_path, "web", tokenizer_path, 300, "alpha"),
            "code": tokenized_source(tmp_path, "code", tokenizer_path, 100, "beta")}


def loader(sources, tokenizer_path, tmp_path, **kw) -> MixtureLoader:
    info = TokenizedDataset(sources["web"]).info
    options = {"seq_len": 16, "batch_rows": 4, "seed": 3, "cache_dir": str(tmp_path / "cache")}
    return MixtureLoader(sources, kw.pop("weights", {"web": 0.75, "code": 0.25}), info,
                         **(options | kw))


def test_rows_are_next_token_pairs_with_boundaries(sources, tokenizer_path, tmp_path):
    b = loader(sources, tokenizer_path, tmp_path).batch(0)
    assert b["input_ids"].shape == b["labels"].shape == b["doc_ids"].shape == (4, 16)
    ids, labels, docs = b["input_ids"], b["labels"], b["doc_ids"]
    eos = ids == 0
    assert (labels[eos] == IGNORE).all()
    assert torch.equal(labels[:, :-1][~eos[:, :-1]], ids[:, 1:][~eos[:, :-1]])
    # a new document id starts right after each EOS, and only there
    assert torch.equal(docs[:, 1:] - docs[:, :-1], eos[:, :-1].long())


def test_same_seed_same_batches_other_seed_differs(sources, tokenizer_path, tmp_path):
    a, b = (loader(sources, tokenizer_path, tmp_path) for _ in range(2))
    c = loader(sources, tokenizer_path, tmp_path, seed=4)
    for step in range(5):
        assert torch.equal(a.batch(step)["input_ids"], b.batch(step)["input_ids"])
    assert any(not torch.equal(a.batch(s)["input_ids"], c.batch(s)["input_ids"])
               for s in range(5))


def test_resume_gives_the_same_next_batch(sources, tokenizer_path, tmp_path):
    first = loader(sources, tokenizer_path, tmp_path)
    stream = iter(first)
    for _ in range(7):
        next(stream)
    state = first.state_dict()
    expected = next(stream)
    resumed = loader(sources, tokenizer_path, tmp_path)
    resumed.load_state_dict(state)
    got = next(iter(resumed))
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    with pytest.raises(ValueError, match="seed"):
        loader(sources, tokenizer_path, tmp_path, seed=9).load_state_dict(state)


def test_two_ranks_together_see_what_one_rank_sees(sources, tokenizer_path, tmp_path):
    one = loader(sources, tokenizer_path, tmp_path, batch_rows=8)
    ranks = [loader(sources, tokenizer_path, tmp_path, batch_rows=4, rank=r, world_size=2)
             for r in range(2)]
    for step in range(4):
        union = torch.cat([r.batch(step)["input_ids"] for r in ranks])
        assert torch.equal(union, one.batch(step)["input_ids"])


def test_mixture_weights_and_epochs(sources, tokenizer_path, tmp_path):
    mix = loader(sources, tokenizer_path, tmp_path, batch_rows=50)
    counts = torch.bincount(torch.cat([mix.batch(s)["source"] for s in range(40)]), minlength=2)
    share_web = counts[mix.names.index("web")].item() / counts.sum().item()
    assert abs(share_web - 0.75) < 0.03
    code = mix.sources[mix.names.index("code")]
    # 2000 rows at 25% code exceed its instances: every instance comes round at least once
    assert counts[mix.names.index("code")] > 2 * len(code.instances)


def test_refuses_another_tokenizer(sources, other_tokenizer_path, tmp_path):
    other = TokenizedDataset(tokenized_source(tmp_path, "o", other_tokenizer_path, 50, "x")).info
    with pytest.raises(TokenizerMismatch):
        MixtureLoader(sources, None, other, 16, 4, cache_dir=str(tmp_path / "cache"))


def brute_force_repetitive(tokens, max_period, min_repeats) -> bool:
    for p in range(1, max_period + 1):
        for start in range(len(tokens)):
            unit = tokens[start:start + p]
            if len(unit) == p and list(tokens[start:start + p * min_repeats]) == \
                    list(unit) * min_repeats:
                return True
    return False


def test_repetition_filter_matches_brute_force():
    rng = np.random.default_rng(0)
    cases = [np.array([1, 2, 3] * 5 + [9]), np.array([7] * 6), np.arange(20),
             np.array([4, 5] * 4 + [4])]
    cases += [rng.integers(0, 3, 40) for _ in range(50)]
    for tokens in cases:
        for period, repeats in ((3, 4), (2, 3), (1, 5)):
            assert is_repetitive(tokens, period, repeats) == \
                brute_force_repetitive(tokens, period, repeats), (tokens, period, repeats)
