"""The training loader: deterministic order, exact resume, rank slicing, boundaries, filters."""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pytest
import torch
from corpora import write_jsonl

from curation import Pipeline, read
from curation.tokenize import Tokenize, TokenizedDataset, TokenizerMismatch
from train.data import IGNORE, MixtureLoader, is_repetitive, pad_id_of


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


@pytest.mark.parametrize("packing", ["concat", "best_fit"])
def test_resume_gives_the_same_next_batch(sources, tokenizer_path, tmp_path, packing):
    first = loader(sources, tokenizer_path, tmp_path, packing=packing)
    stream = iter(first)
    for _ in range(7):
        next(stream)
    state = first.state_dict()
    expected = next(stream)
    resumed = loader(sources, tokenizer_path, tmp_path, packing=packing)
    resumed.load_state_dict(state)
    got = next(iter(resumed))
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    with pytest.raises(ValueError, match="seed"):
        loader(sources, tokenizer_path, tmp_path, seed=9, packing=packing).load_state_dict(state)
    with pytest.raises(ValueError, match="probs"):  # another mix of the same sources
        loader(sources, tokenizer_path, tmp_path, packing=packing,
               weights={"web": 0.5, "code": 0.5}).load_state_dict(state)
    other = "concat" if packing == "best_fit" else "best_fit"
    with pytest.raises(ValueError, match="packing"):
        loader(sources, tokenizer_path, tmp_path, packing=other).load_state_dict(state)


@pytest.mark.parametrize("packing", ["concat", "best_fit"])
def test_two_ranks_together_see_what_one_rank_sees(sources, tokenizer_path, tmp_path, packing):
    one = loader(sources, tokenizer_path, tmp_path, batch_rows=8, packing=packing)
    ranks = [loader(sources, tokenizer_path, tmp_path, batch_rows=4, rank=r, world_size=2,
                    packing=packing) for r in range(2)]
    for step in range(4):
        whole = one.batch(step)
        parts = [r.batch(step) for r in ranks]
        for k in whole:
            assert torch.equal(torch.cat([p[k] for p in parts]), whole[k]), k


def source_documents(directory: str) -> list[tuple[int, ...]]:
    """The documents of a tokenized output, read from its Parquet shards (not the export)."""
    return [tuple(d) for b in TokenizedDataset(directory).batches(columns=["input_ids"])
            for d in b.column("input_ids").to_pylist()]


def best_fit_epoch(sources, tokenizer_path, tmp_path, seq_len: int, name: str = "web"):
    """One epoch of a single-source best-fit loader as one batch, its PAD id and its documents."""
    info = TokenizedDataset(sources[name]).info
    pad = pad_id_of(tokenizer_path, info)
    probe = MixtureLoader({name: sources[name]}, None, info, seq_len, 1,
                          cache_dir=str(tmp_path / "cache"), packing="best_fit", pad_id=pad)
    n = len(probe.sources[0].instances)
    assert n == len(probe.sources[0].rows)  # the repetition filter dropped no row here
    epoch = MixtureLoader({name: sources[name]}, None, info, seq_len, n, seed=5,
                          cache_dir=str(tmp_path / "cache"), packing="best_fit", pad_id=pad)
    return epoch, epoch.batch(0), pad, source_documents(sources[name])


@pytest.mark.parametrize("seq_len", [16, 64])  # 16: most documents (~34 tokens) are cut
def test_best_fit_epoch_holds_every_document_token_once(sources, tokenizer_path, tmp_path,
                                                        seq_len):
    epoch, b, pad, docs = best_fit_epoch(sources, tokenizer_path, tmp_path, seq_len)
    assert pad == 1 and pad != epoch.eos  # the test tokenizer's <|pad|>
    assert all(d[-1] == epoch.eos for d in docs)
    row_len = seq_len + 1
    expected = Counter(d[s:s + row_len] for d in docs for s in range(0, len(d), row_len))
    # the rows of the epoch, rebuilt from the batch: inputs plus each row's last token
    src = epoch.sources[0]
    rows = [src.tokens(epoch.slot_instance(k)[1], row_len) for k in range(len(b["input_ids"]))]
    assert torch.equal(b["input_ids"], torch.from_numpy(np.stack(rows)[:, :-1]))
    pieces: Counter = Counter()
    for row in rows:
        real = row[row != pad]
        assert (row[len(real):] == pad).all()  # padding only at a row's end
        # pieces: split after each EOS, and a full-row piece of a cut document
        cuts = np.flatnonzero(real == epoch.eos) + 1
        for piece in np.split(real, cuts):
            if len(piece):
                pieces[tuple(int(t) for t in piece)] += 1
    assert pieces == expected
    assert sum(len(p) * c for p, c in pieces.items()) == sum(len(d) for d in docs)


def test_best_fit_labels_and_doc_ids(sources, tokenizer_path, tmp_path):
    epoch, b, pad, docs = best_fit_epoch(sources, tokenizer_path, tmp_path, 16)
    ids, labels, doc_ids = b["input_ids"], b["labels"], b["doc_ids"]
    padding = ids == pad
    assert padding.any()
    assert (labels[padding] == IGNORE).all()
    assert (labels[ids == epoch.eos] == IGNORE).all()  # a document's EOS predicts nothing
    joined = [list(d) for d in docs]
    for r in range(len(ids)):
        real = ~padding[r]
        if padding[r].any():  # padding has a doc id no real token of its row has
            assert set(doc_ids[r][padding[r]].tolist()).isdisjoint(doc_ids[r][real].tolist())
        # each run of one doc id is a contiguous stretch of one document: no row mixes
        # documents without a doc-id change, and a document's EOS ends its run
        starts = [0] + [j for j in range(1, len(ids[r])) if doc_ids[r, j] != doc_ids[r, j - 1]]
        for a, z in zip(starts, starts[1:] + [len(ids[r])], strict=True):
            run = ids[r, a:z].tolist()
            if padding[r, a]:
                continue
            assert epoch.eos not in run[:-1]
            assert any(run == d[i:i + len(run)] for d in joined
                       for i in range(len(d) - len(run) + 1)), run
            # inside a run, labels are the next input; the run's last label is the next
            # token of its document (a cut piece) or IGNORE (EOS, next segment, padding)
            assert labels[r, a:z - 1].tolist() == run[1:]
            if run[-1] == epoch.eos or z < len(ids[r]):
                assert labels[r, z - 1] == IGNORE
    assert (labels != IGNORE).any()


def test_best_fit_pads_with_eos_without_a_pad_id_and_is_deterministic(sources, tokenizer_path,
                                                                      tmp_path):
    a = loader(sources, tokenizer_path, tmp_path, packing="best_fit", seq_len=64, batch_rows=8)
    b = loader(sources, tokenizer_path, tmp_path, packing="best_fit", seq_len=64, batch_rows=8)
    for step in range(3):
        x, y = a.batch(step), b.batch(step)
        assert all(torch.equal(x[k], y[k]) for k in x)
    x = a.batch(0)
    assert not (x["input_ids"] == 1).any()  # no <|pad|> given: EOS pads
    # a row's padded tail (EOS after EOS) is one segment, labelled IGNORE
    tail = (x["input_ids"][:, 1:] == 0) & (x["input_ids"][:, :-1] == 0)
    assert tail.any() and (x["labels"][:, 1:][tail] == IGNORE).all()
    with pytest.raises(ValueError, match="packing"):
        loader(sources, tokenizer_path, tmp_path, packing="greedy")


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
