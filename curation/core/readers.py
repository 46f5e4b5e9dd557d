"""Readers: JSONL (plain, .gz, .zst) and Parquet files into batches of documents.

Each input file is one shard. Batches are bounded by rows and by text bytes, so memory stays
bounded whatever the file size. Bad records go through a ``Quarantine``: in ``raise`` mode the
first one stops the run with ``file:line N`` (JSONL, 1-based) or ``file:row N`` (Parquet,
0-based); in ``quarantine`` mode they are written aside and counted by reason.
"""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import zstandard

from curation.core import fs
from curation.core.quarantine import OnError, Quarantine
from curation.core.schema import CREATED, ID, SOURCE, TEXT, URL, conform, parse_created, stable_ids

CHUNK = 1 << 20  # compressed bytes read per step
ZSTD_PIECE = 512  # compressed bytes inflated per call: at most ~16 MiB out (see _zstd_chunks)
FORMATS = ("jsonl", "parquet")


def detect_format(path: str) -> tuple[str, str | None]:
    """(format, compression) from the file name."""
    name = path.lower()
    compression = None
    for ext, comp in ((".zst", "zstd"), (".zstd", "zstd"), (".gz", "gzip")):
        if name.endswith(ext):
            name, compression = name[: -len(ext)], comp
            break
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl", compression
    if name.endswith((".parquet", ".pq")):
        return "parquet", compression
    raise ValueError(f"{path}: cannot tell the format from the name; pass format='jsonl'|'parquet'")


def _zstd_chunks(raw, path: str) -> Iterator[bytes]:
    """Decompressed chunks of a (multi-frame) zstd stream; a truncated stream is an error.

    Compressed input goes in ``ZSTD_PIECE``-byte pieces, so one call never inflates more than
    about 16 MiB (a block of at most 128 KiB per 4 input bytes): a zstd bomb is streamed, not
    held in memory, and a line over ``max_doc_bytes`` in it is skipped in bounded memory.
    """
    dobj = zstandard.ZstdDecompressor().decompressobj()
    complete = True
    while block := raw.read(CHUNK):
        for start in range(0, len(block), ZSTD_PIECE):
            piece = block[start : start + ZSTD_PIECE]
            while piece:
                out = dobj.decompress(piece)
                if out:
                    yield out
                complete = dobj.eof
                piece = dobj.unused_data if dobj.eof else b""
                if dobj.eof:
                    dobj = zstandard.ZstdDecompressor().decompressobj()
    if not complete:
        raise EOFError("zstd stream is truncated (the last frame has no end)")


def _gzip_chunks(raw) -> Iterator[bytes]:
    """Decompressed chunks of a gzip stream; ``read1`` hands over what each input block
    inflates to, so a truncated stream loses only its last partial block, not up to CHUNK."""
    with gzip.GzipFile(fileobj=raw) as g:
        while block := g.read1(CHUNK):
            yield block


def _plain_chunks(raw) -> Iterator[bytes]:
    while block := raw.read(CHUNK):
        yield block


def iter_lines(
    chunks: Iterator[bytes], max_line_bytes: int | None
) -> Iterator[tuple[int, bytes | None, int]]:
    """(1-based line number, line without newline or None if too long, line length in bytes).

    A line longer than ``max_line_bytes`` is not held in memory: it is skipped and reported as
    ``None`` with its length.
    """
    lineno, parts, size, skipping = 0, [], 0, False
    for chunk in chunks:
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            piece = chunk[start:] if nl < 0 else chunk[start:nl]
            size += len(piece)
            if max_line_bytes is not None and size > max_line_bytes:
                skipping, parts = True, []
            elif not skipping:
                parts.append(piece)
            if nl < 0:
                break
            lineno += 1
            yield lineno, (None if skipping else b"".join(parts)), size
            parts, size, skipping = [], 0, False
            start = nl + 1
    if size or parts:
        lineno += 1
        yield lineno, (None if skipping else b"".join(parts)), size


@dataclass
class Reader:
    """A source of documents: files matched by ``paths`` (globs, directories, URIs).

    ``source`` fills the ``source`` column (else each record must carry one). ``columns`` names
    extra fields to keep, with their Arrow types. Documents without an ``id`` get a stable id
    from source and content. Empty texts are dropped and counted (reason ``empty_text``).
    """

    paths: str | list[str]
    source: str | None = None
    format: str | None = None
    text_key: str = TEXT
    id_key: str = ID
    columns: dict[str, pa.DataType] = field(default_factory=dict)
    on_error: OnError = "raise"
    max_doc_bytes: int | None = 16 << 20
    batch_rows: int = 4096
    batch_bytes: int = 32 << 20

    def __post_init__(self) -> None:
        if self.format is not None and self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {self.format!r}")
        if self.on_error not in ("raise", "quarantine"):
            raise ValueError(f"on_error must be 'raise' or 'quarantine', not {self.on_error!r}")

    def files(self) -> list[str]:
        return fs.expand(self.paths)

    def output_columns(self) -> list[str]:
        return [ID, TEXT, SOURCE, URL, CREATED, *self.columns]

    def config(self) -> dict:
        cfg = {k: v for k, v in vars(self).items() if k not in ("paths", "columns")}
        cfg["columns"] = {k: str(v) for k, v in self.columns.items()}
        return cfg

    def read(self, path: str, quarantine: Quarantine, drops: Counter) -> Iterator[pa.Table]:
        """Batches of conformed documents from one file."""
        fmt, compression = (self.format, None) if self.format else detect_format(path)
        if self.format and path.lower().endswith((".zst", ".zstd", ".gz")):
            compression = "gzip" if path.lower().endswith(".gz") else "zstd"
        reader = self._read_parquet if fmt == "parquet" else self._read_jsonl
        yield from reader(path, compression, quarantine, drops)

    # -- JSONL -------------------------------------------------------------------------------
    def _read_jsonl(
        self, path: str, compression: str | None, q: Quarantine, drops: Counter
    ) -> Iterator[pa.Table]:
        rows: list[dict] = []
        where: list[str] = []
        nbytes = 0
        any_line = False
        last_line = 0  # the last line read whole, for the error if the stream breaks
        try:
            with fs.open_input(path) as raw:
                chunks = (
                    _zstd_chunks(raw, path)
                    if compression == "zstd"
                    else _gzip_chunks(raw)
                    if compression == "gzip"
                    else _plain_chunks(raw)
                )
                for lineno, line, size in iter_lines(chunks, self._max_line_bytes()):
                    any_line, last_line = True, lineno
                    loc = f"{path}:line {lineno}"
                    if line is None:
                        q.bad(
                            loc,
                            "too_large",
                            f"document of {size:,} bytes exceeds "
                            f"max_doc_bytes={self.max_doc_bytes:,}",
                            rows=1,
                        )
                        continue
                    if not line.strip():
                        continue
                    record = self._parse_line(line, loc, q)
                    if record is None:
                        continue
                    rows.append(record)
                    where.append(loc)
                    nbytes += len(line)
                    if len(rows) >= self.batch_rows or nbytes >= self.batch_bytes:
                        yield from self._finish(self._table(rows), where, q, drops)
                        rows, where, nbytes = [], [], 0
        except (EOFError, zstandard.ZstdError, gzip.BadGzipFile, zlib.error, OSError) as e:
            if rows:
                yield from self._finish(self._table(rows), where, q, drops)
                rows, where = [], []
            what = f"cannot read past line {last_line}" if last_line else "cannot read the file"
            any_line = True  # reported as unreadable, not also as empty
            q.bad(f"{path}", "unreadable", f"{what}: {e}")
        if rows:
            yield from self._finish(self._table(rows), where, q, drops)
        if not any_line:
            q.bad(path, "empty_file", "file holds no documents")

    def _max_line_bytes(self) -> int | None:
        # JSON escaping can make a line longer than its text; allow for it generously.
        return None if self.max_doc_bytes is None else 2 * self.max_doc_bytes + 4096

    def _parse_line(self, line: bytes, loc: str, q: Quarantine) -> dict | None:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as u:
                q.bad(loc, "bad_utf8", f"invalid UTF-8 at byte {u.start} of the line", line)
                return None
            q.bad(loc, "malformed_json", f"malformed JSON: {e}", line)
            return None
        if not isinstance(record, dict):
            kind = type(record).__name__
            q.bad(loc, "malformed_json", f"a line must hold a JSON object, not {kind}", line)
            return None
        text = record.get(self.text_key)
        if not isinstance(text, str):
            what = "no" if text is None else f"a non-string ({type(text).__name__})"
            q.bad(loc, "missing_text", f"record has {what} '{self.text_key}' field", line)
            return None
        if self.oversized(text, loc, q):
            return None
        return record

    def oversized(self, text: str, loc: str, q: Quarantine) -> bool:
        """Report ``text`` as ``too_large`` if its UTF-8 size exceeds ``max_doc_bytes``."""
        if self.max_doc_bytes is None or len(text) <= self.max_doc_bytes // 4:
            return False  # 4 bytes per character at most: surely small enough
        size = len(text.encode("utf-8", "surrogatepass"))
        if size <= self.max_doc_bytes:
            return False
        q.bad(loc, "too_large",
              f"document of {size:,} bytes exceeds max_doc_bytes={self.max_doc_bytes:,}",
              raw=text[:1024])
        return True

    def _table(self, rows: list[dict]) -> pa.Table:
        cols: dict[str, list] = {
            TEXT: [r[self.text_key] for r in rows],
            ID: [_as_str(r.get(self.id_key)) for r in rows],
            SOURCE: [_as_str(r.get(SOURCE)) for r in rows],
            URL: [_as_str(r.get(URL)) for r in rows],
            CREATED: [r.get(CREATED) for r in rows],
        }
        for name in self.columns:
            cols[name] = [r.get(name) for r in rows]
        arrays = {}
        for name, values in cols.items():
            try:
                arrays[name] = pa.array(values, type=pa.large_string() if name == TEXT else None)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                arrays[name] = pa.array([None if v is None else str(v) for v in values])
        return pa.table(arrays)

    # -- Parquet -----------------------------------------------------------------------------
    def _read_parquet(
        self, path: str, compression: str | None, q: Quarantine, drops: Counter
    ) -> Iterator[pa.Table]:
        try:
            pf = pq.ParquetFile(fs.open_input(path))
        except (pa.ArrowInvalid, OSError) as e:
            q.bad(path, "unreadable", f"not a readable Parquet file: {e}")
            return
        names = pf.schema_arrow.names
        if self.text_key not in names:
            q.bad(
                path,
                "missing_column",
                f"no '{self.text_key}' column (has: {', '.join(names)})",
                rows=pf.metadata.num_rows,
            )
            return
        if pf.metadata.num_rows == 0:
            q.bad(path, "empty_file", "file holds no documents")
            return
        wanted = {self.text_key: TEXT, self.id_key: ID, SOURCE: SOURCE, URL: URL, CREATED: CREATED}
        wanted.update({c: c for c in self.columns})
        present = [c for c in wanted if c in names]
        row = 0
        try:
            for batch in pf.iter_batches(batch_size=self.batch_rows, columns=present):
                table = pa.Table.from_batches([batch]).rename_columns([wanted[c] for c in present])
                where = [f"{path}:row {row + i}" for i in range(table.num_rows)]
                row += table.num_rows
                yield from self._finish(self._check_parquet(table, where, q), where, q, drops)
        except (pa.ArrowInvalid, OSError) as e:
            q.bad(f"{path}:row {row}", "unreadable", f"cannot read past row {row}: {e}")

    def _check_parquet(self, table: pa.Table, where: list[str], q: Quarantine) -> pa.Table:
        text = table.column(TEXT)
        if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
            q.bad(
                where[0],
                "bad_type",
                f"column '{self.text_key}' is {text.type}, not string",
                rows=table.num_rows,
            )
            return table.slice(0, 0)
        bad = pc.is_null(text)
        if self.max_doc_bytes is not None:
            bad = pc.or_kleene(bad, pc.greater(pc.binary_length(text), self.max_doc_bytes))
        if pc.any(bad).as_py():
            lengths = pc.binary_length(text).to_pylist()
            for i in pc.indices_nonzero(bad).to_pylist():
                if lengths[i] is None:
                    q.bad(where[i], "missing_text", f"'{self.text_key}' is null")
                else:
                    q.bad(
                        where[i],
                        "too_large",
                        f"document of {lengths[i]:,} bytes exceeds "
                        f"max_doc_bytes={self.max_doc_bytes:,}",
                    )
            table = table.filter(pc.invert(bad))
            where[:] = [w for w, b in zip(where, bad.to_pylist(), strict=True) if not b]
        return table

    # -- shared ------------------------------------------------------------------------------
    def _finish(
        self, table: pa.Table, where: list[str], q: Quarantine, drops: Counter
    ) -> Iterator[pa.Table]:
        """Fill source, ids and dates; drop empty texts (counted); conform to the schema."""
        if table.num_rows == 0:
            return
        if self.source is not None:
            table = _set(table, SOURCE, pa.array([self.source] * table.num_rows, pa.string()))
        missing = [i for i, v in enumerate(_column(table, SOURCE)) if v is None]
        for i in missing:
            q.bad(where[i], "missing_source", "record has no 'source' and read() got none")
        table, where = _drop_rows(table, where, missing)
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(table.column(TEXT))), 0)
        empty = pc.indices_nonzero(blank).to_pylist()
        if empty:
            drops["empty_text"] += len(empty)
        table, where = _drop_rows(table, where, empty)
        if table.num_rows == 0:
            return
        if CREATED in table.column_names:
            created, bad = parse_created(table.column(CREATED).combine_chunks())
            table = _set(table, CREATED, created)
            for i in bad:
                q.bad(where[i], "bad_created", "'created' is not an ISO-8601 date")
            table, where = _drop_rows(table, where, bad)
        ids = table.column(ID).combine_chunks() if ID in table.column_names else None
        if ids is None or ids.null_count:
            derived = stable_ids(table.column(SOURCE), table.column(TEXT))
            has_some = ids is not None and ids.null_count < len(ids)
            table = _set(
                table, ID, pc.coalesce(ids.cast(pa.string()), derived) if has_some else derived
            )
        try:
            yield conform(table, self.columns)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # rare: find the rows that do not fit, one by one, and keep the others
            good = []
            for i in range(table.num_rows):
                try:
                    conform(table.slice(i, 1), self.columns)
                    good.append(i)
                except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                    q.bad(where[i], "bad_type", f"a column does not fit its declared type: {e}")
            if good:
                yield conform(table.take(pa.array(good, pa.int64())), self.columns)


def _as_str(v) -> str | None:
    return v if v is None or isinstance(v, str) else str(v)


def _column(table: pa.Table, name: str) -> list:
    return table.column(name).to_pylist() if name in table.column_names else [None] * len(table)


def _drop_rows(table: pa.Table, where: list[str], rows: list[int]) -> tuple[pa.Table, list[str]]:
    """The table and its row locations without the given row indices."""
    if not rows:
        return table, where
    gone = set(rows)
    keep = [i for i in range(table.num_rows) if i not in gone]
    return table.take(pa.array(keep, pa.int64())), [where[i] for i in keep]


def _set(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)


def read(paths: str | list[str], source: str | None = None, **options) -> Reader:
    """Declare a source of documents; see ``Reader`` for the options."""
    return Reader(paths, source, **options)
