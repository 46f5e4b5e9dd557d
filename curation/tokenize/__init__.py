"""Tokenization: the contract between curation and training.

``Tokenize`` turns documents into tokenized Parquet shards (``input_ids`` list<uint16|uint32>,
``n_tokens``, ``n_bytes``, carried ``id/source/topic/vigintile``; the tokenizer in the schema
metadata); every sink gets a ``manifest.json`` with token counts per shard and per domain;
``TokenizedDataset`` reads them back for a consumer and refuses another tokenizer's ids;
``export_npy``/``import_npy`` convert to and from the raw arrays OLMo-core and Dolma read,
``export_megatron`` writes Megatron-LM's indexed datasets (.bin/.idx);
``pack_concat``/``pack_best_fit`` make fixed-length rows with document boundaries.
"""

from curation.core.manifest import read_manifest
from curation.tokenize.dataset import TokenizedDataset
from curation.tokenize.export import export_npy, import_npy
from curation.tokenize.megatron import export_megatron
from curation.tokenize.packing import Packed, flat_documents, pack_best_fit, pack_concat
from curation.tokenize.stage import Tokenize, tokenizer_of
from curation.tokenize.tokenizer import (
    TokenizerInfo,
    TokenizerMismatch,
    describe,
    fertility,
    load_tokenizer,
    train_bpe,
)

__all__ = [
    "Packed",
    "Tokenize",
    "TokenizedDataset",
    "TokenizerInfo",
    "TokenizerMismatch",
    "describe",
    "export_megatron",
    "export_npy",
    "fertility",
    "flat_documents",
    "import_npy",
    "load_tokenizer",
    "pack_best_fit",
    "pack_concat",
    "read_manifest",
    "tokenizer_of",
    "train_bpe",
]
