"""Export of token shards to Megatron-LM's indexed dataset: a ``.bin`` / ``.idx`` pair per shard.

Megatron (``megatron.core.datasets.indexed_dataset``) reads a dataset by its path prefix:

- ``<prefix>.bin``: every document's token ids concatenated, little-endian, in the ``.idx``'s
  dtype (documents end with our EOS, as Megatron's ``--append-eod`` writes them);
- ``<prefix>.idx``: the header ``MMIDIDX\\0\\0``, version 1 (``<Q``), the dtype's code (``<B``:
  uint8 1, int8 2, int16 3, int32 4, int64 5, float64 6, float32 7, uint16 8), the number of
  sequences and of document indices (``<Q`` each), then each sequence's length (int32), each
  sequence's byte offset in the ``.bin`` (int64), and the document indices (int64: sequence
  ``i`` starts document ``i``; one more entry than documents, the last the sequence count).

One document is one sequence. The default dtype is Megatron's own choice: uint16 when every id
fits (vocabulary of at most 65,500), else int32. ``megatron.json`` beside the pairs records the
tokenizer, the dtype and each prefix's documents and tokens; a blended Megatron config lists
the prefixes (with weights from our mix, for example).
"""

from __future__ import annotations

import os
import struct

import numpy as np

from curation.core import fs
from curation.core.errors import CurationError
from curation.core.schema import INPUT_IDS
from curation.tokenize.dataset import TokenizedDataset

HEADER = b"MMIDIDX\x00\x00"
VERSION = 1
DTYPE_CODES = {"uint8": 1, "int8": 2, "int16": 3, "int32": 4, "int64": 5, "uint16": 8}
SMALL_VOCAB = 65_500  # Megatron's preprocess_data takes uint16 below this vocabulary size
META = "megatron.json"


def default_dtype(vocab_size: int) -> str:
    return "uint16" if vocab_size < SMALL_VOCAB else "int32"


def index_bytes(lengths: np.ndarray, dtype: str) -> bytes:
    """The ``.idx`` of sequences of ``lengths`` tokens, one document each."""
    item = np.dtype(dtype).itemsize
    pointers = np.zeros(len(lengths), np.int64)
    np.cumsum(lengths[:-1].astype(np.int64) * item, out=pointers[1:])
    documents = np.arange(len(lengths) + 1, dtype=np.int64)
    return b"".join([
        HEADER, struct.pack("<Q", VERSION), struct.pack("<B", DTYPE_CODES[dtype]),
        struct.pack("<Q", len(lengths)), struct.pack("<Q", len(documents)),
        lengths.astype("<i4").tobytes(), pointers.astype("<i8").tobytes(),
        documents.astype("<i8").tobytes()])


def export_megatron(directory: str, out_dir: str, dtype: str | None = None) -> dict:
    """Export a tokenized dataset to one ``.bin``/``.idx`` pair per shard; returns
    ``megatron.json``'s content. Tokens stream shard by shard; the index holds 20 bytes per
    document of one shard."""
    data = TokenizedDataset(directory)
    dtype = dtype or default_dtype(data.info.vocab_size)
    if dtype not in DTYPE_CODES:
        raise CurationError(f"Megatron's indexed dataset holds token ids as one of "
                            f"{sorted(DTYPE_CODES)}, not {dtype!r}")
    if np.iinfo(dtype).max < data.info.vocab_size - 1:
        raise CurationError(f"{dtype} cannot hold ids up to {data.info.vocab_size - 1}")
    files = []
    for i, shard in enumerate(data.shards):
        prefix = os.path.basename(shard).removesuffix(".parquet")
        lengths = []
        with fs.atomic_output(fs.join(out_dir, f"{prefix}.bin")) as out:
            for batch in data.shard_batches(i):
                ids = batch.column(INPUT_IDS)
                out.write(ids.values.to_numpy(zero_copy_only=False)
                          .astype(np.dtype(dtype).newbyteorder("<"), copy=False).tobytes())
                lengths.append(ids.value_lengths().to_numpy(zero_copy_only=False))
        sizes = np.concatenate(lengths) if lengths else np.zeros(0, np.int32)
        if len(sizes) and sizes.max() > np.iinfo(np.int32).max:
            raise CurationError(f"{shard}: a document of {sizes.max():,} tokens is longer "
                                "than Megatron's int32 sequence lengths allow")
        fs.atomic_write_bytes(fs.join(out_dir, f"{prefix}.idx"), index_bytes(sizes, dtype))
        files.append({"prefix": prefix, "docs": len(sizes), "tokens": int(sizes.sum())})
    meta = {"tokenizer": data.info.to_dict(), "dtype": dtype, "files": files}
    fs.write_json(fs.join(out_dir, META), meta)
    return meta
