"""The document schema: one row of an Arrow table per document.

Required: ``id`` (string, unique and stable), ``text`` (large_string, UTF-8), ``source`` (string).
Optional: ``url`` (string), ``created`` (timestamp[us, UTC]). Stages add typed columns
(``lang``, ``quality``, ``topic``...) declared in their ``adds``; nothing hides in a free-form dict.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from curation.core.errors import CurationError
from curation.core.hashing import xxh3_64_column

ID, TEXT, SOURCE, URL, CREATED = "id", "text", "source", "url", "created"
# Columns of tokenized shards (curation.tokenize): token ids, and what they came from.
INPUT_IDS, N_TOKENS, N_BYTES = "input_ids", "n_tokens", "n_bytes"
TOKENIZER_METADATA = b"curation.tokenizer"  # schema metadata of tokenized shards: JSON
DOMAIN_COLUMNS = (SOURCE, "topic", "vigintile")  # what mixing and the manifest count by

BASE_FIELDS: dict[str, pa.DataType] = {
    ID: pa.string(),
    TEXT: pa.large_string(),
    SOURCE: pa.string(),
    URL: pa.string(),
    CREATED: pa.timestamp("us", tz="UTC"),
}
REQUIRED = (ID, TEXT, SOURCE)
BASE_SCHEMA = pa.schema(list(BASE_FIELDS.items()))


def stable_ids(source: pa.Array, text: pa.Array) -> pa.Array:
    """Ids derived from source and content: ``<source>-<xxh3_64(text) as 16 hex digits>``.

    Identical texts of one source share the hash; within one batch the k-th repeat (k >= 1) gets a
    ``-k`` suffix so ids stay unique there. Repeats across batches keep the same id until exact
    deduplication removes them.
    """
    hashes = xxh3_64_column(text).tolist()
    ids = [f"{s}-{h:016x}" for s, h in zip(source.to_pylist(), hashes, strict=True)]
    if len(set(ids)) < len(ids):
        seen: dict[str, int] = {}
        for i, base in enumerate(ids):
            k = seen.get(base, 0)
            seen[base] = k + 1
            if k:
                ids[i] = f"{base}-{k}"
    return pa.array(ids, pa.string())


def parse_created(values: pa.Array) -> tuple[pa.Array, list[int]]:
    """Parse ISO-8601 strings (with offset or ``Z``; a bare date means midnight UTC).

    Returns the timestamp array and the indices of values that could not be parsed (set null).
    """
    target = BASE_FIELDS[CREATED]
    if pa.types.is_timestamp(values.type):
        if values.type.tz is None:
            values = pc.assume_timezone(values, "UTC")
        return values.cast(target), []
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), target), []
    with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pc.cast(values, target), []  # the fast path: every value has an offset
    parsed: list[datetime | None] = []
    bad: list[int] = []
    for i, v in enumerate(values.to_pylist()):
        if v is None:
            parsed.append(None)
            continue
        try:
            dt = datetime.fromisoformat(str(v))
            parsed.append(dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt)
        except ValueError:
            parsed.append(None)
            bad.append(i)
    return pa.array(parsed, target), bad


def conform(table: pa.Table, extra: dict[str, pa.DataType] | None = None) -> pa.Table:
    """Cast base columns (and declared extras) to their types, base columns first, others after.

    Missing optional columns are added as nulls. Raises ``KeyError`` naming a missing required
    column; callers turn that into an ``InputError`` with the file name.
    """
    fields = dict(BASE_FIELDS)
    fields.update(extra or {})
    columns, names = [], []
    for name, typ in fields.items():
        if name in table.column_names:
            col = table.column(name)
            columns.append(col if col.type == typ else col.cast(typ))
        elif name in REQUIRED:
            raise KeyError(name)
        else:
            columns.append(pa.nulls(table.num_rows, typ))
        names.append(name)
    for name in table.column_names:
        if name not in fields:
            columns.append(table.column(name))
            names.append(name)
    return pa.Table.from_arrays(columns, names=names)


def token_weights(batch: pa.Table) -> pa.Array:
    """Tokens per document (int64): ``n_tokens`` when present (null -> 0), else the number of
    whitespace-separated words of ``text``. What vigintiles, mixing and reports weigh by."""
    if "n_tokens" in batch.column_names:
        counts = pc.fill_null(pc.cast(batch.column("n_tokens"), pa.int64()), 0)
    elif "text" in batch.column_names:
        words = pc.count_substring_regex(batch.column("text"), r"\S+")
        counts = pc.fill_null(pc.cast(words, pa.int64()), 0)
    else:
        raise CurationError("token weights need an 'n_tokens' or a 'text' column")
    return counts.combine_chunks() if isinstance(counts, pa.ChunkedArray) else counts
