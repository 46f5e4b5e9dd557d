"""The training data loader: tokenized Parquet shards in, fixed-length batches out.

Layout, following OLMo-core's deterministic loading:

1. Each source (a tokenized output directory with its manifest) is checked against the
   tokenizer the run expects, then exported once to memory-mappable ``.npy`` token arrays in a
   cache directory keyed by the shards' checksums (``curation.tokenize.export_npy``).
2. A source's token stream (its arrays concatenated in manifest order) is cut into
   **instances** of ``seq_len + 1`` tokens (inputs and next-token labels; the last token of an
   instance is the first of the next); instances whose tokens repeat a short period many times
   are dropped (``is_repetitive``).
3. Instances are shuffled per source with a permutation keyed on ``(seed, source, epoch)``;
   an exhausted source starts its next epoch. Each slot of the global stream draws its source
   from the mixture weights with a generator keyed on ``(seed, block)``, so slot ``k`` is a pure
   function of the seed and ``k``.
4. Step ``t`` of a run with global batch ``G`` takes slots ``[t*G, (t+1)*G)``; rank ``r`` of
   ``W`` takes the ``r``-th contiguous ``G/W`` of them, so the union over ranks is the same
   whatever ``W``. The loader's state is the next step: restoring it gives the same next batch.

Document boundaries travel with each row as ``doc_ids`` (a new id after every EOS); labels
that would predict across a boundary are ``IGNORE`` (-100).

**Best-fit packing** (``packing="best_fit"``, for context-extension stages where cutting
documents at arbitrary points wastes the long context): step 2 is replaced. Each exported file's
documents (split after each EOS; a trailing run without EOS counts as a document) are packed by
``curation.tokenize.packing.pack_best_fit`` into rows of ``seq_len + 1`` tokens, in the order the
rows were opened (deterministic: same file, same rows). Only documents longer than a row are cut;
the cut pieces are separate segments in separate rows. A row's unused tail is padding (the
tokenizer's ``<|pad|>`` id when known, else EOS): its labels are ``IGNORE`` and it has a doc id
of its own, so no real token attends into it and it predicts nothing. Every token of every
document lands in exactly one row, so an epoch of a source sees each token once (as an input,
or as the label-only last token of a row). Labels are ``IGNORE`` wherever the next token is in
another segment: at each document's last position (its EOS) and on padding. Rows whose real
tokens are repetitive are dropped as in concat mode.

Memory of best-fit packing: a source's packed rows are held in RAM, 8 bytes per row position
(uint32 tokens + int32 segment ids), i.e. about ``8 * (tokens + padding)`` bytes per source;
while one file is packed, ``pack_best_fit`` also holds three int64 arrays of its rows
(24 bytes per position) and a few Python objects per document. Packing is a Python loop over
documents (roughly a few microseconds each), run once when the source is opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from curation.core import fs
from curation.core.hashing import fingerprint
from curation.tokenize import TokenizedDataset, TokenizerInfo, export_npy
from curation.tokenize.export import read_export_meta
from curation.tokenize.packing import pack_best_fit
from curation.tokenize.tokenizer import DEFAULT_SPECIALS, load_tokenizer, tokenizer_hash

IGNORE = -100
SLOT_BLOCK = 4096  # slots whose sources are drawn by one generator
PACKINGS = ("concat", "best_fit")
Packing = Literal["concat", "best_fit"]


def is_repetitive(tokens: np.ndarray, max_period: int = 13, min_repeats: int = 32) -> bool:
    """True when some period ``p <= max_period`` repeats at least ``min_repeats`` times in a row
    (a run of ``p * min_repeats`` tokens where ``tokens[i] == tokens[i + p]`` throughout)."""
    for p in range(1, max_period + 1):
        need = p * (min_repeats - 1)  # equalities in a row that make min_repeats periods
        if len(tokens) <= p or len(tokens) - p < need:
            continue
        same = np.concatenate([[False], tokens[p:] == tokens[:-p], [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(same))
        if len(edges) and (edges[1::2] - edges[::2]).max() >= need:
            return True
    return False


def pad_id_of(tokenizer_path: str | None, tokenizer: TokenizerInfo) -> int:
    """The PAD id (``<|pad|>``) of the tokenizer file at ``tokenizer_path``, else EOS.

    Tokenized manifests do not record a PAD id, so it is read from the tokenizer file, which must
    be the run's tokenizer (same hash; ``ValueError`` otherwise). ``None``, or a tokenizer without
    ``<|pad|>``: EOS (padding is masked by its labels and doc id either way)."""
    if tokenizer_path is None:
        return tokenizer.eos_id
    loaded = load_tokenizer(tokenizer_path)
    if tokenizer_hash(loaded) != tokenizer.hash:
        raise ValueError(f"{tokenizer_path} is not the tokenizer the data was tokenized with "
                         f"({tokenizer.name}, hash {tokenizer.hash[:12]})")
    pad = loaded.token_to_id(DEFAULT_SPECIALS["pad"])
    return tokenizer.eos_id if pad is None else int(pad)


@dataclass(frozen=True)
class Source:
    """One source: its memory-mapped token arrays and its instance index.

    Concat mode: ``instances`` holds (file index, start offset) of each kept instance in
    ``arrays``; ``rows``/``segments`` are None. Best-fit mode: ``instances`` holds (file index,
    row index into ``rows``) of each kept packed row; ``rows`` (n_rows, seq_len + 1) uint32 are
    the packed tokens and ``segments`` (same shape) int32 the segment of each position within
    its row (0, 1, ... in row order; -1 on padding)."""

    name: str
    arrays: list[np.ndarray]  # one memmap per exported file
    instances: np.ndarray  # (n, 2) int64: see the class docstring
    bytes_per_token: float  # text bytes per token, from the manifest (for bits per byte)
    rows: np.ndarray | None = None
    segments: np.ndarray | None = None

    def tokens(self, i: int, length: int) -> np.ndarray:
        """The ``length`` tokens (int64) of instance ``i`` (a packed row: its first ``length``)."""
        f, start = self.instances[i]
        if self.rows is not None:
            return self.rows[start, :length].astype(np.int64)
        return np.asarray(self.arrays[f][start:start + length], np.int64)

    def segments_of(self, i: int) -> np.ndarray | None:
        """Segment ids (int32, -1 on padding) of packed instance ``i``; None in concat mode."""
        return None if self.segments is None else self.segments[self.instances[i][1]]


def document_offsets(tokens: np.ndarray, eos: int) -> np.ndarray:
    """Offsets (int64, starting at 0, ending at ``len(tokens)``) of the documents of a token
    stream: each ends after an EOS; trailing tokens without EOS form a last document."""
    ends = np.flatnonzero(np.asarray(tokens) == eos) + 1
    if not len(ends) or ends[-1] != len(tokens):
        ends = np.append(ends, len(tokens))
    return np.concatenate([[0], ends]).astype(np.int64) if len(tokens) else np.zeros(1, np.int64)


def pack_file(tokens: np.ndarray, eos: int, row_len: int,
              pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Best-fit rows of ``row_len`` tokens of one file's documents: ``(rows uint32, segments
    int32)``, both (n_rows, row_len); segments number each row's pieces 0, 1, ... and are -1 on
    padding. Deterministic (rows in the order ``pack_best_fit`` opened them)."""
    offsets = document_offsets(tokens, eos)
    packed = pack_best_fit(np.asarray(tokens), offsets, row_len, pad_id)
    d = packed.doc_index
    change = np.concatenate([np.zeros((len(d), 1), bool), d[:, 1:] != d[:, :-1]], axis=1)
    segments = np.cumsum(change, axis=1, dtype=np.int32)
    segments[d < 0] = -1
    return packed.tokens.astype(np.uint32), segments


def _npy_cache(directory: str, data: TokenizedDataset, cache_dir: str) -> list[str]:
    """The dataset's ``.npy`` arrays, exported on first use into a checksum-keyed cache."""
    key = fingerprint([s["checksum"] for s in data.manifest["shards"]])
    out = fs.join(cache_dir, key)
    if not fs.exists(fs.join(out, "export.json")):
        export_npy(directory, out, data.info.dtype)
    return [fs.join(out, f["npy"]) for f in read_export_meta(out)["files"]]


def open_source(name: str, directory: str, tokenizer: TokenizerInfo, seq_len: int,
                cache_dir: str, filter_repetitive: bool = True, packing: Packing = "concat",
                pad_id: int | None = None) -> Source:
    """A source's instances of ``seq_len + 1`` tokens; instances never cross files. The
    repetition filter reads every instance once (numpy, about 13 passes over its tokens).

    ``packing="concat"``: instances are consecutive cuts of each file's token stream.
    ``packing="best_fit"``: instances are best-fit packed rows of each file's documents, held in
    memory (8 bytes per row position; see the module docstring), padded with ``pad_id`` (None:
    EOS); the repetition filter looks at a row's real tokens only."""
    if packing not in PACKINGS:
        raise ValueError(f"packing must be one of {PACKINGS}, not {packing!r}")
    data = TokenizedDataset(directory, expect=tokenizer)
    dtype = np.dtype(data.info.dtype).newbyteorder("<")
    arrays = [np.memmap(p, dtype=dtype, mode="r") for p in _npy_cache(directory, data, cache_dir)
              if os.path.getsize(p)]
    rows = segments = None
    if packing == "concat":
        instances = [(f, s) for f, a in enumerate(arrays)
                     for s in range(0, len(a) - seq_len, seq_len)
                     if not (filter_repetitive and is_repetitive(a[s:s + seq_len + 1]))]
    else:
        pad = tokenizer.eos_id if pad_id is None else pad_id
        packed = [pack_file(a, tokenizer.eos_id, seq_len + 1, pad) for a in arrays]
        rows = np.concatenate([p[0] for p in packed]) if packed else \
            np.zeros((0, seq_len + 1), np.uint32)
        segments = np.concatenate([p[1] for p in packed]) if packed else \
            np.zeros((0, seq_len + 1), np.int32)
        files = np.concatenate([np.full(len(p[0]), f, np.int64) for f, p in enumerate(packed)]) \
            if packed else np.zeros(0, np.int64)
        instances = [(int(files[r]), r) for r in range(len(rows))
                     if not (filter_repetitive and is_repetitive(rows[r][segments[r] >= 0]))]
    if not instances:
        raise ValueError(f"{directory}: no instance of {seq_len + 1} usable tokens in source "
                         f"{name}")
    totals = data.manifest["totals"]
    return Source(name, arrays, np.array(instances, np.int64),
                  totals["text_bytes"] / max(1, totals["tokens"]), rows, segments)


class MixtureLoader:
    """Deterministic, resumable batches from weighted sources (see the module docstring).

    ``batch_rows`` is the per-rank batch; the global batch is ``batch_rows * world_size``.
    Batches are dicts of int64 tensors ``input_ids``, ``labels``, ``doc_ids`` of shape
    ``(batch_rows, seq_len)`` and ``source`` (int64, index into ``names``) of shape
    ``(batch_rows,)``. ``packing`` picks how instances are cut (see the module docstring);
    ``pad_id`` is the padding token of best-fit rows (None: EOS; see ``pad_id_of``).
    """

    def __init__(self, sources: dict[str, str], weights: dict[str, float] | None,
                 tokenizer: TokenizerInfo, seq_len: int, batch_rows: int, seed: int = 0,
                 rank: int = 0, world_size: int = 1, cache_dir: str = "runs/cache/npy",
                 filter_repetitive: bool = True, packing: Packing = "concat",
                 pad_id: int | None = None):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        weights = weights or {n: 1.0 for n in sources}
        if set(weights) != set(sources) or min(weights.values()) < 0 or \
                sum(weights.values()) <= 0:
            raise ValueError(f"weights {weights} must be non-negative, not all zero, and name "
                             f"exactly the sources {sorted(sources)}")
        self.names = sorted(sources)
        self.packing = packing
        self.sources = [open_source(n, sources[n], tokenizer, seq_len, cache_dir,
                                    filter_repetitive, packing, pad_id) for n in self.names]
        total = sum(weights.values())
        self.probs = np.array([weights[n] / total for n in self.names])
        self.eos = tokenizer.eos_id
        self.seq_len, self.batch_rows = seq_len, batch_rows
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.step = 0
        self._block: tuple[int, np.ndarray, np.ndarray] | None = None
        self._perms: dict[tuple[int, int], np.ndarray] = {}
        self._before = [np.zeros(len(self.names), np.int64)]

    # -- the global stream: slot -> (source, instance) ------------------------------------
    def _slots_of_block(self, block: int) -> tuple[np.ndarray, np.ndarray]:
        """Source of each slot in a block, and each slot's rank among its source's draws."""
        if self._block is None or self._block[0] != block:
            rng = np.random.default_rng([self.seed, 1, block])
            src = rng.choice(len(self.names), size=SLOT_BLOCK, p=self.probs)
            before = self._drawn_before(block)
            nth = np.empty(SLOT_BLOCK, np.int64)
            for s in range(len(self.names)):
                mask = src == s
                nth[mask] = before[s] + np.arange(mask.sum())
            self._block = (block, src, nth)
        return self._block[1], self._block[2]

    def _drawn_before(self, block: int) -> np.ndarray:
        """Draws of each source in blocks before ``block`` (memoised block by block)."""
        while len(self._before) <= block:
            b = len(self._before) - 1
            rng = np.random.default_rng([self.seed, 1, b])
            drawn = np.bincount(rng.choice(len(self.names), size=SLOT_BLOCK, p=self.probs),
                                minlength=len(self.names))
            self._before.append(self._before[-1] + drawn)
        return self._before[block]

    def _instance(self, source: int, nth: int) -> int:
        """Index of the ``nth`` instance drawn from ``source`` (epochs wrap around)."""
        n = len(self.sources[source].instances)
        epoch, i = divmod(nth, n)
        key = (source, epoch)
        if key not in self._perms:
            if len(self._perms) > 8:
                self._perms.clear()
            self._perms[key] = np.random.default_rng([self.seed, 2, source, epoch]).permutation(n)
        return int(self._perms[key][i])

    def slot_instance(self, k: int) -> tuple[int, int]:
        """Source index and instance index of global slot ``k``."""
        block, offset = divmod(k, SLOT_BLOCK)
        src, nth = self._slots_of_block(block)
        s = int(src[offset])
        return s, self._instance(s, int(nth[offset]))

    def slot(self, k: int) -> tuple[int, np.ndarray]:
        """Source index and the ``seq_len + 1`` tokens of global slot ``k``."""
        s, i = self.slot_instance(k)
        return s, self.sources[s].tokens(i, self.seq_len + 1)

    # -- batches ------------------------------------------------------------------------------
    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """This rank's rows of global step ``step``."""
        first = (step * self.world_size + self.rank) * self.batch_rows
        slots = [self.slot_instance(first + i) for i in range(self.batch_rows)]
        rows = [(s, self.sources[s].tokens(i, self.seq_len + 1)) for s, i in slots]
        chunk = np.stack([r[1] for r in rows])
        inputs, labels = chunk[:, :-1], chunk[:, 1:].copy()
        if self.packing == "best_fit":
            seg = np.stack([self.sources[s].segments_of(i) for s, i in slots]).astype(np.int64)
            # the next token is in another segment (a document's EOS, a cut piece) or padding
            labels[(seg[:, :-1] != seg[:, 1:]) | (seg[:, :-1] < 0)] = IGNORE
            doc_ids = seg[:, :-1]
            # padding (at a row's end) gets an id of its own, one past the row's last segment
            doc_ids = np.where(doc_ids < 0, seg.max(axis=1, keepdims=True) + 1, doc_ids)
        else:
            ends = inputs == self.eos  # a document ends at its EOS; the next starts another
            doc_ids = np.cumsum(np.concatenate([np.zeros((len(rows), 1), bool), ends[:, :-1]],
                                               1), 1)
            labels[ends] = IGNORE  # EOS never predicts the next document's first token
        return {
            "input_ids": torch.from_numpy(inputs.copy()),
            "labels": torch.from_numpy(labels),
            "doc_ids": torch.from_numpy(doc_ids.astype(np.int64)),
            "source": torch.tensor([r[0] for r in rows], dtype=torch.int64),
        }

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        while True:
            batch = self.batch(self.step)
            self.step += 1
            yield batch

    def state_dict(self) -> dict:
        return {"step": self.step, "seed": self.seed, "names": self.names,
                "probs": self.probs.tolist(), "seq_len": self.seq_len, "packing": self.packing}

    def load_state_dict(self, state: dict) -> None:
        """Restore the step; refuses a state of another seed, mix (sources and weights), length
        or packing (a state without ``packing`` was written in concat mode)."""
        mine = self.state_dict()
        state = {"packing": "concat"} | state
        for k in ("seed", "names", "probs", "seq_len", "packing"):
            if state[k] != mine[k]:
                raise ValueError(f"loader state has {k}={state[k]!r}, this loader {mine[k]!r}")
        self.step = state["step"]
