"""Inverted n-gram indexes of one eval set, as flat numpy arrays saved to a directory.

An inverted index over a family of per-item n-gram sets is three arrays: ``keys`` (uint64, the
distinct n-gram hashes, sorted), ``offsets`` (int64, ``len(keys) + 1``) and ``items`` (int32,
the items holding ``keys[k]`` are ``items[offsets[k]:offsets[k + 1]]``, ascending), plus
``idf`` (float64 per key, ``ln(1 + N / df)``, N items, df items holding the key: always > 0,
largest for the rarest n-grams). Lookup is ``np.searchsorted`` over ``keys``.

``simple`` mode builds three: ``q`` over question n-grams (with ``q_hot``: n-grams in at least
``max(hot_min_items, hot_fraction * N)`` items do not start a cluster), ``a`` over answers and
``p`` over passages; per item, the IDF sums and counts of its unique n-grams (``q_idf_sum``,
``q_unique`` ...), its component lengths in tokens (``q_len``, ``a_len``, ``p_len``; ``a_types``:
distinct answer tokens, which AI2 decon counts for the answer's part of the length rule) and its
answer tokens (``a_tok``, CSR by ``a_tok_off``, for exact short-answer matching). Question
n-grams have ``n`` tokens, answer n-grams ``answer_n`` and passage n-grams ``passage_n`` (both
``n`` when None). ``ngram8`` mode builds ``c`` over the n-grams (n = 8) of question + answer,
with each item's n-gram sequence in order (``c_seq``, CSR by ``c_seq_off``) and its token count
(``c_len``).

The arrays are written as ``.npy`` files with ``meta.json`` under a directory named by the
fingerprint of the eval items and every parameter (and the polars version, whose hash makes the
tokens), built once on the driver (temp dir + rename) and memory-mapped read-only by workers.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace

import numpy as np
import polars as pl

from curation.decon.evals import EvalSet
from curation.decon.presets import INDEX_PRESETS, preset_fields
from curation.decon.tokens import Tokens, ngrams

INDEX_VERSION = 3  # 3: a_types, answer_n and passage_n; tokenizer texts padded with a space


@dataclass(frozen=True)
class IndexParams:
    """How items become n-grams: ``n`` (5 in simple mode; ngram8 always uses 8), the
    tokenizer.json path (None: words), the hot n-gram bounds and the answer and passage n-gram
    sizes of simple mode (None: ``n``)."""

    n: int = 5
    tokenizer: str | None = None
    hot_min_items: int = 50
    hot_fraction: float = 0.01
    answer_n: int | None = None
    passage_n: int | None = None

    @classmethod
    def preset(cls, name: str = "default", **fields) -> IndexParams:
        """The parameters of a named preset (``curation.decon.presets``), ``fields`` over it."""
        return cls(**{**preset_fields(INDEX_PRESETS, name), **fields})

    def for_mode(self, mode: str) -> IndexParams:
        return replace(self, n=8, answer_n=None, passage_n=None) if mode == "ngram8" else self

    def sizes(self) -> dict[str, int]:
        """N-gram size of each family of simple mode: question, answer, passage."""
        return {"q": self.n, "a": self.answer_n or self.n, "p": self.passage_n or self.n}


def _inverted(grams: np.ndarray, owner: np.ndarray, n_items: int) -> dict[str, np.ndarray]:
    """keys/offsets/items/idf of the distinct (n-gram, item) pairs given flat, with ``owner``."""
    order = np.lexsort((owner, grams))
    grams, owner = grams[order], owner[order].astype(np.int32)
    fresh = np.ones(len(grams), bool)
    fresh[1:] = (grams[1:] != grams[:-1]) | (owner[1:] != owner[:-1])
    grams, owner = grams[fresh], owner[fresh]
    keys, counts = np.unique(grams, return_counts=True)
    offsets = np.zeros(len(keys) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    idf = np.log1p(n_items / np.maximum(counts, 1)).astype(np.float64)
    return {"keys": keys, "offsets": offsets, "items": owner,
            "idf": idf, "df": counts.astype(np.int32)}


def _family(tokens: Tokens, texts: list[str], n: int, prefix: str) -> dict[str, np.ndarray]:
    """Inverted index of the n-grams of ``texts`` (one per item) and per-item IDF sums."""
    hashes, offsets = tokens.batch(texts)
    grams, starts = ngrams(hashes, offsets, n)
    owner = np.searchsorted(offsets, starts, side="right") - 1
    inv = _inverted(grams, owner, len(texts))
    key_of = np.repeat(np.arange(len(inv["keys"])), np.diff(inv["offsets"]))
    idf_sum = np.bincount(inv["items"], weights=inv["idf"][key_of], minlength=len(texts))
    out = {f"{prefix}_{k}": v for k, v in inv.items()}
    out[f"{prefix}_idf_sum"] = idf_sum.astype(np.float64)
    out[f"{prefix}_unique"] = np.bincount(inv["items"], minlength=len(texts)).astype(np.int32)
    out[f"{prefix}_len"] = np.diff(offsets).astype(np.int32)
    out[f"{prefix}_tok"], out[f"{prefix}_tok_off"] = hashes, offsets
    out[f"{prefix}_seq"], out[f"{prefix}_seq_owner"] = grams, owner.astype(np.int32)
    return out


def build_arrays(evalset: EvalSet, params: IndexParams) -> dict[str, np.ndarray]:
    """Every array of the index of ``evalset`` (see the module docstring)."""
    tokens = Tokens(params.tokenizer)
    items = evalset.items
    n_items = len(items)
    arrays: dict[str, np.ndarray] = {"ids": np.asarray([it.id for it in items], dtype=str)}
    if evalset.mode == "ngram8":
        fam = _family(tokens, [f"{it.question}\n{it.answer}" for it in items], params.n, "c")
        seq_off = np.searchsorted(fam["c_seq_owner"], np.arange(n_items + 1)).astype(np.int64)
        arrays.update({k: fam[k] for k in ("c_keys", "c_offsets", "c_items", "c_len")})
        arrays.update(c_seq=fam["c_seq"], c_seq_off=seq_off)
        return arrays
    sizes = params.sizes()
    for prefix, texts in (("q", [it.question for it in items]), ("a", [it.answer for it in items]),
                          ("p", [it.passage for it in items])):
        fam = _family(tokens, texts, sizes[prefix], prefix)
        for name in ("keys", "offsets", "items", "idf", "idf_sum", "len", "unique"):
            arrays[f"{prefix}_{name}"] = fam[f"{prefix}_{name}"]
        if prefix == "q":
            hot_df = max(params.hot_min_items, math.ceil(params.hot_fraction * n_items))
            arrays["q_hot"] = fam["q_df"] >= hot_df
        if prefix == "a":
            arrays["a_tok"], arrays["a_tok_off"] = fam["a_tok"], fam["a_tok_off"]
            owner = np.repeat(np.arange(n_items), np.diff(fam["a_tok_off"]))
            distinct = np.unique(np.stack([owner.astype(np.uint64), fam["a_tok"]]), axis=1)
            arrays["a_types"] = np.bincount(distinct[0].astype(np.int64),
                                            minlength=n_items).astype(np.int32)
    return arrays


def _file_digest(path: str | None) -> str | None:
    if path is None:
        return None
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fingerprint(evalset: EvalSet, params: IndexParams) -> str:
    """Cache key: eval contents, mode, parameters, tokenizer bytes, polars and index versions."""
    blob = json.dumps([INDEX_VERSION, pl.__version__, evalset.fingerprint(), asdict(params),
                       _file_digest(params.tokenizer)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class DeconIndex:
    """The arrays of one eval set's index (memory-mapped when loaded) and its metadata."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict):
        self.arrays, self.meta = arrays, meta
        self.name: str = meta["name"]
        self.mode: str = meta["mode"]
        self.n: int = meta["n"]
        self.answer_n: int = meta.get("answer_n") or self.n
        self.passage_n: int = meta.get("passage_n") or self.n

    def __getattr__(self, key: str) -> np.ndarray:
        try:
            return self.__dict__["arrays"][key]
        except KeyError:
            raise AttributeError(key) from None

    @classmethod
    def build(cls, evalset: EvalSet, params: IndexParams) -> DeconIndex:
        params = params.for_mode(evalset.mode)
        meta = {"name": evalset.name, "mode": evalset.mode, "n": params.n,
                "answer_n": params.sizes()["a"], "passage_n": params.sizes()["p"],
                "items": len(evalset.items), "skipped": evalset.skipped, "params": asdict(params)}
        return cls(build_arrays(evalset, params), meta)

    def save(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        for key, value in self.arrays.items():
            np.save(os.path.join(directory, f"{key}.npy"), value, allow_pickle=False)
        with open(os.path.join(directory, "meta.json"), "w") as f:
            json.dump(self.meta, f, indent=1, sort_keys=True)

    @classmethod
    def load(cls, directory: str, mmap: bool = True) -> DeconIndex:
        with open(os.path.join(directory, "meta.json")) as f:
            meta = json.load(f)
        arrays = {
            name[:-4]: np.load(os.path.join(directory, name), mmap_mode="r" if mmap else None,
                               allow_pickle=False)
            for name in sorted(os.listdir(directory)) if name.endswith(".npy")
        }
        return cls(arrays, meta)

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())


def lookup(keys: np.ndarray, grams: np.ndarray) -> np.ndarray:
    """Index into ``keys`` of each gram, -1 where absent (int64)."""
    if len(keys) == 0:
        return np.full(len(grams), -1, np.int64)
    at = np.searchsorted(keys, grams)
    at_clipped = np.minimum(at, len(keys) - 1)
    return np.where(keys[at_clipped] == grams, at_clipped, -1).astype(np.int64)


def cached_index(evalset: EvalSet, params: IndexParams, cache_dir: str) -> str:
    """Directory of the index of ``evalset`` under ``cache_dir``, built there if missing."""
    params = params.for_mode(evalset.mode)
    final = os.path.join(cache_dir, f"{evalset.name}-{fingerprint(evalset, params)}")
    if os.path.exists(os.path.join(final, "meta.json")):
        return final
    os.makedirs(cache_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".build-", dir=cache_dir)
    try:
        DeconIndex.build(evalset, params).save(tmp)
        os.rename(tmp, final)
    except OSError:
        if not os.path.exists(os.path.join(final, "meta.json")):
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
