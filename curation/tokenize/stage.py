"""The ``Tokenize`` map stage: documents in, token ids out, one row per document.

Output columns: ``input_ids`` (``list<uint16>`` when the vocabulary fits in 16 bits, else
``list<uint32>``; the document's tokens then EOS, after BOS when one is configured),
``n_tokens`` (int64, the list's length, EOS included; sums of it never wrap), ``n_bytes``
(int64, UTF-8 bytes of the text), and the carried columns (``id``, ``source``, ``topic``,
``vigintile`` where present).
``text`` is not kept. The schema metadata key ``curation.tokenizer`` holds the tokenizer's
``TokenizerInfo`` as JSON, so every shard says which tokenizer made it.

Special-token strings inside a text (a literal ``<|endoftext|>`` in a web page) are encoded as
plain text: the only EOS ids in the output are the ones this stage appends.
"""

from __future__ import annotations

import itertools
import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tokenizers import Tokenizer

from curation.core.errors import CurationError
from curation.core.schema import (
    ID,
    INPUT_IDS,
    N_BYTES,
    N_TOKENS,
    SOURCE,
    TEXT,
    TOKENIZER_METADATA,
)
from curation.core.stage import BatchContext, MapStage
from curation.tokenize.tokenizer import TokenizerInfo, describe, load_tokenizer

METADATA_KEY = TOKENIZER_METADATA
CARRY = (ID, SOURCE, "topic", "vigintile")


def _in_ray_worker() -> bool:
    ray = sys.modules.get("ray")
    return bool(ray and ray.is_initialized() and ray.get_runtime_context().get_task_id())


def token_type(info: TokenizerInfo) -> pa.DataType:
    return pa.uint16() if info.dtype == "uint16" else pa.uint32()


def list_offsets(lengths: np.ndarray) -> np.ndarray:
    """The offsets (int64, from 0) of lists of these lengths, checked to fit the int32 offsets
    of an Arrow ``list``: past ``2^31 - 1`` values they would wrap around, so that is an error."""
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise CurationError(f"{int(offsets[-1]):,} token ids in one batch of {len(lengths):,} "
                            "documents: more than a list column's int32 offsets can address")
    return offsets


def tokens_array(ids: list[list[int]], info: TokenizerInfo) -> pa.ListArray:
    """Per-document id lists (without specials) as one Arrow list array, BOS/EOS added."""
    n = len(ids)
    lengths = np.fromiter(map(len, ids), np.int64, n)
    with_bos = info.bos_id is not None
    offsets = list_offsets(lengths + 1 + with_bos)
    dtype = np.uint16 if info.dtype == "uint16" else np.uint32
    flat = np.empty(int(offsets[-1]), dtype)
    body = np.ones(len(flat), bool)
    body[offsets[1:] - 1] = False
    if with_bos:
        body[offsets[:-1]] = False
        flat[offsets[:-1]] = info.bos_id
    flat[body] = np.fromiter(itertools.chain.from_iterable(ids), dtype, int(lengths.sum()))
    flat[offsets[1:] - 1] = info.eos_id
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(flat))


def with_tokenizer_metadata(table: pa.Table, info: TokenizerInfo) -> pa.Table:
    meta = dict(table.schema.metadata or {})
    meta[METADATA_KEY] = json.dumps(info.to_dict(), sort_keys=True).encode()
    return table.replace_schema_metadata(meta)


def tokenizer_of(schema: pa.Schema) -> TokenizerInfo | None:
    """The ``TokenizerInfo`` a tokenized shard's schema records, or None for untokenized data."""
    raw = (schema.metadata or {}).get(METADATA_KEY)
    return None if raw is None else TokenizerInfo.from_dict(json.loads(raw))


class Tokenize(MapStage):
    """Encode ``text`` with a ``tokenizer.json``; see the module docstring for the output.

    ``eos``/``bos`` name special tokens (``eos=None`` finds a usual one: ``<|endoftext|>``,
    ``</s>``...). ``parallel`` chooses who uses the cores: the Rust tokenizer's own threads
    (True), or one thread per task so that the executor's workers share them (False); the
    default is one thread inside a Ray task and the tokenizer's threads otherwise. Empty (or
    null) texts are dropped (reason ``empty_text``).
    """

    version = 3  # 2: null texts dropped as empty_text; 3: n_tokens is int64

    requires = (TEXT,)

    def __init__(self, tokenizer: str, eos: str | None = None, bos: str | None = None,
                 carry: tuple[str, ...] = CARRY, parallel: bool | None = None,
                 name: str | None = None):
        # the file is read when a run starts (its digest) or when the stage is first used
        self.tokenizer, self.eos, self.bos, self.carry = str(tokenizer), eos, bos, tuple(carry)
        self.name = name
        self._parallel = parallel
        self._info: TokenizerInfo | None = None
        self._tok: Tokenizer | None = None

    def artifacts(self) -> dict[str, str]:
        return {"tokenizer": self.tokenizer}

    def _load(self) -> Tokenizer:
        loaded = load_tokenizer(self.artifact("tokenizer"))
        if self._info is None:
            self._info = describe(loaded, os.path.basename(self.tokenizer), self.eos, self.bos)
        return loaded

    def ship(self, directory: str) -> None:
        super().ship(directory)
        if self._info is None:  # described once, on the driver: tasks get it with the stage
            self._load()

    @property
    def tokenizer_info(self) -> TokenizerInfo:
        """Name, hash, vocabulary size and special ids of the tokenizer (reads the file)."""
        if self._info is None:
            self._load()
        return self._info

    def output_columns(self) -> dict[str, pa.DataType]:
        return {
            INPUT_IDS: pa.list_(token_type(self.tokenizer_info)),
            N_TOKENS: pa.int64(),
            N_BYTES: pa.int64(),
        }

    def output_names(self) -> list[str]:
        return [INPUT_IDS, N_TOKENS, N_BYTES]  # without reading the tokenizer

    def columns_after(self, upstream: list[str]) -> list[str]:
        return [c for c in upstream if c in self.carry] + self.output_names()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_tok": None}  # workers load their own in setup()

    def setup(self) -> None:
        self._tok = self._load()
        self._tok.encode_special_tokens = True
        parallel = self._parallel if self._parallel is not None else not _in_ray_worker()
        os.environ["TOKENIZERS_PARALLELISM"] = "true" if parallel else "false"

    def process(self, batch: pa.Table, ctx: BatchContext) -> pa.Table:
        n_bytes = pc.binary_length(batch.column(TEXT)).cast(pa.int64())
        empty = pc.fill_null(pc.equal(n_bytes, 0), True)  # a null text is empty too
        if pc.any(empty).as_py():
            ctx.drop("empty_text", batch.filter(empty))
            keep = pc.invert(empty)
            batch, n_bytes = batch.filter(keep), n_bytes.filter(keep)
        info = self.tokenizer_info
        texts = batch.column(TEXT).to_pylist()
        encodings = self._tok.encode_batch_fast(texts, add_special_tokens=False)
        ids = tokens_array([e.ids for e in encodings], info)
        n_tokens = pc.list_value_length(ids).cast(pa.int64())
        ctx.stats.tokens_out += len(ids.values)
        kept = [c for c in batch.column_names if c in self.carry]
        out = batch.select(kept).append_column(INPUT_IDS, ids)
        out = out.append_column(N_TOKENS, n_tokens).append_column(N_BYTES, n_bytes)
        return with_tokenizer_metadata(out, info)
