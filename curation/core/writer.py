"""Parquet shard writer: zstd, rolls to a new file at a size bound, publishes files atomically."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from curation.core import fs
from curation.core.hashing import file_checksum


@dataclass(frozen=True)
class ShardFile:
    """A finished output file: where it is, rows, bytes on disk, xxh3-128 of its bytes."""

    path: str
    rows: int
    bytes: int
    checksum: str

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "rows": self.rows,
            "bytes": self.bytes,
            "checksum": self.checksum,
        }


class ShardWriter:
    """Writes tables to ``<dir>/<stem>-<k:03d>.parquet``, k = 0, 1, ...

    A file is closed and a new one started once ``max_bytes`` of Arrow data (uncompressed, so the
    cut is deterministic; estimated per row within a table) went into it. Each file is written
    under a temporary name and renamed when complete. A writer that saw no rows writes no file.
    """

    def __init__(
        self,
        directory: str,
        stem: str,
        max_bytes: int = 512 << 20,
        compression: str = "zstd",
        compression_level: int = 3,
    ):
        self.directory, self.stem, self.max_bytes = directory, stem, max_bytes
        self.compression, self.level = compression, compression_level
        self.files: list[ShardFile] = []
        self._writer: pq.ParquetWriter | None = None
        self._ctx = None
        self._schema: pa.Schema | None = None
        self._rows = self._bytes = 0

    def _path(self) -> str:
        return fs.join(self.directory, f"{self.stem}-{len(self.files):03d}.parquet")

    def write(self, table: pa.Table) -> None:
        """Append rows; a table larger than the room left is split across files by rows."""
        if table.num_rows == 0:
            return
        if self._schema is None:
            self._schema = table.schema
        elif table.schema != self._schema:
            table = table.select(self._schema.names).cast(self._schema)
        row_bytes = max(1.0, table.nbytes / table.num_rows)
        start = 0
        while start < table.num_rows:
            room = max(1, int((self.max_bytes - self._bytes) / row_bytes))
            piece = table.slice(start, room)
            start += piece.num_rows
            self._write(piece, piece.num_rows * row_bytes)

    def _write(self, table: pa.Table, nbytes: float) -> None:
        if self._writer is None:
            self._ctx = fs.atomic_output(self._path())
            sink = self._ctx.__enter__()
            self._writer = pq.ParquetWriter(
                sink, self._schema, compression=self.compression, compression_level=self.level
            )
        self._writer.write_table(table)
        self._rows += table.num_rows
        self._bytes += nbytes
        if self._bytes >= self.max_bytes:
            self._roll()

    def _roll(self) -> None:
        if self._writer is None:
            return
        path = self._path()
        self._writer.close()
        self._ctx.__exit__(None, None, None)
        size = _size(path)
        self.files.append(ShardFile(path, self._rows, size, file_checksum(path)))
        self._writer = self._ctx = None
        self._rows = self._bytes = 0

    def close(self) -> list[ShardFile]:
        self._roll()
        return self.files

    def abort(self) -> None:
        """Drop the file in progress (its temporary file is removed)."""
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)
            self._writer = self._ctx = None


def _size(path: str) -> int:
    filesystem, inner = fs.resolve(path)
    return filesystem.get_file_info(inner).size
