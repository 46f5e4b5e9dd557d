"""Reading tokenized output as a consumer: the trainer, the swarm, the exporters.

``TokenizedDataset(directory, expect=...)`` opens a finished output through its manifest and
refuses data made by another tokenizer than the one the consumer expects, naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from curation.core import fs
from curation.core.errors import CurationError
from curation.core.hashing import file_checksum
from curation.core.manifest import MANIFEST, read_manifest
from curation.tokenize.stage import tokenizer_of
from curation.tokenize.tokenizer import (
    TokenizerInfo,
    TokenizerMismatch,
    describe,
    load_tokenizer,
)


def expected_info(expect: TokenizerInfo | str, eos: str | None = None) -> TokenizerInfo:
    """``expect`` as a ``TokenizerInfo``: given, or described from a tokenizer.json path."""
    if isinstance(expect, TokenizerInfo):
        return expect
    return describe(load_tokenizer(expect), expect, eos)


class TokenizedDataset:
    """A tokenized output directory: its manifest, its tokenizer, its shards in order.

    ``expect`` (a ``TokenizerInfo`` or a tokenizer.json path) is checked against the manifest
    now and against each shard's own schema when it is read; ``verify_checksums`` also checks
    every shard's bytes against the manifest's xxh3-128 now (one pass over the data).
    """

    def __init__(self, directory: str, expect: TokenizerInfo | str | None = None,
                 verify_checksums: bool = False):
        self.directory = directory
        self.manifest = read_manifest(directory)
        where = fs.join(directory, MANIFEST)
        if self.manifest["tokenizer"] is None:
            raise CurationError(f"{where}: the shards hold no token ids (no Tokenize stage?)")
        self.info = TokenizerInfo.from_dict(self.manifest["tokenizer"])
        if expect is not None:
            expected_info(expect).check(self.info, where)
        self.shards = [fs.join(directory, s["path"]) for s in self.manifest["shards"]]
        if verify_checksums:
            for path, entry in zip(self.shards, self.manifest["shards"], strict=True):
                if file_checksum(path) != entry["checksum"]:
                    raise CurationError(f"{path}: checksum differs from {where}")

    @property
    def n_tokens(self) -> int:
        return self.manifest["totals"]["tokens"]

    @property
    def n_docs(self) -> int:
        return self.manifest["totals"]["docs"]

    def _check_schema(self, path: str, schema: pa.Schema) -> None:
        found = tokenizer_of(schema)
        if found is None:
            raise TokenizerMismatch(f"{path}: no tokenizer recorded in its schema")
        self.info.check(found, path)

    def check_shards(self) -> None:
        """Check every shard's recorded tokenizer (reads only the Parquet footers)."""
        for path in self.shards:
            with fs.open_input(path) as f:
                self._check_schema(path, pq.read_schema(f))

    def shard_batches(self, index: int, columns: list[str] | None = None,
                      batch_size: int = 8192) -> Iterator[pa.RecordBatch]:
        """Record batches of shard ``index``, after checking the tokenizer its schema records."""
        path = self.shards[index]
        with fs.open_input(path) as f:
            parquet = pq.ParquetFile(f)
            self._check_schema(path, parquet.schema_arrow)
            yield from parquet.iter_batches(batch_size=batch_size, columns=columns)

    def batches(self, columns: list[str] | None = None,
                batch_size: int = 8192) -> Iterator[pa.RecordBatch]:
        """Record batches of every shard, in dataset order."""
        for i in range(len(self.shards)):
            yield from self.shard_batches(i, columns, batch_size)
