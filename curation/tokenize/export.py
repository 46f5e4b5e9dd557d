"""Raw token arrays in and out: the ``.npy`` files OLMo-core and Dolma read.

Export writes, per shard, ``<stem>.npy``: the documents' token ids concatenated (each ends with
EOS), as a headerless little-endian array (``np.memmap``, as Dolma writes and OLMo-core reads
them); ``<stem>.csv.gz``: Dolma's metadata, one headerless row ``start,end,id,src,loc`` per
document (its token span, end exclusive; ``src`` our ``source``; ``loc`` its index in the
shard); and ``<stem>.labels.csv.gz``: our other labels (``topic, vigintile, n_bytes`` where
present, with a header, one row per document in the same order). ``export.json`` records the
tokenizer and dtype, which a headerless array cannot.

Import reads such arrays back into our tokenized shards, with their metadata when present: our
own export losslessly, a Dolma pair with its ids (the documents' source is then the ``source``
argument, as Dolma's ``src`` is a file path), or a label list with a header (``start,end`` and
any of ``id, source, topic, vigintile, n_bytes``). Without metadata, documents are split after
each EOS (trailing tokens without an EOS form a last document). Every imported document ends
with EOS: one is added to a document that lacks it.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from curation.core import fs
from curation.core.errors import CurationError, InputError
from curation.core.manifest import write_manifest
from curation.core.schema import DOMAIN_COLUMNS, ID, INPUT_IDS, N_BYTES, N_TOKENS, SOURCE
from curation.core.writer import ShardWriter
from curation.tokenize.dataset import TokenizedDataset, expected_info
from curation.tokenize.stage import list_offsets, token_type, with_tokenizer_metadata
from curation.tokenize.tokenizer import TokenizerInfo, load_tokenizer

EXPORT_META = "export.json"
DOLMA_COLUMNS = ("start", "end", ID, "src", "loc")  # Dolma's headerless metadata rows
EXTRA_LABELS = ("topic", "vigintile", N_BYTES)  # ours, in the .labels.csv.gz beside them
EXTRA_SUFFIX = ".labels.csv.gz"
DOCS_PER_BATCH = 8192


def export_npy(directory: str, out_dir: str, dtype: str = "uint32") -> dict:
    """Export a tokenized dataset to ``.npy`` + ``.csv.gz`` pairs; returns ``export.json``."""
    data = TokenizedDataset(directory)
    np_dtype = np.dtype(dtype).newbyteorder("<")
    if np.iinfo(np_dtype).max < data.info.vocab_size - 1:
        raise CurationError(f"{dtype} cannot hold ids up to {data.info.vocab_size - 1}")
    files = []
    for i, shard in enumerate(data.shards):
        stem = os.path.basename(shard).removesuffix(".parquet")
        npy, labels = fs.join(out_dir, f"{stem}.npy"), fs.join(out_dir, f"{stem}.csv.gz")
        extra = fs.join(out_dir, stem + EXTRA_SUFFIX)
        start = docs = 0
        with (fs.atomic_output(npy) as tokens_out, _csv_gz(labels) as dolma_out,
              _csv_gz(extra) as extra_out):
            dolma = extras = None
            for batch in data.shard_batches(i):
                ids = batch.column(INPUT_IDS)
                tokens_out.write(ids.values.to_numpy(zero_copy_only=False)
                                 .astype(np_dtype, copy=False).tobytes())
                ends = start + np.cumsum(ids.value_lengths().to_numpy(zero_copy_only=False))
                n = batch.num_rows
                rows = pa.table({
                    "start": np.concatenate([[start], ends[:-1]]), "end": ends,
                    ID: batch.column(ID),
                    "src": (batch.column(SOURCE) if SOURCE in batch.schema.names
                            else pa.nulls(n, pa.string())),
                    "loc": np.arange(docs, docs + n)})
                more = batch.select([c for c in EXTRA_LABELS if c in batch.schema.names])
                if dolma is None:
                    headerless = pacsv.WriteOptions(include_header=False, quoting_style="needed")
                    dolma = pacsv.CSVWriter(dolma_out, rows.schema, write_options=headerless)
                    extras = pacsv.CSVWriter(extra_out, more.schema)
                dolma.write_table(rows)
                extras.write(more)
                start, docs = int(ends[-1]) if len(ends) else start, docs + n
            for writer in (dolma, extras):
                if writer is not None:
                    writer.close()
        files.append({"npy": os.path.basename(npy), "labels": os.path.basename(labels),
                      "extra_labels": os.path.basename(extra), "tokens": start, "docs": docs})
    meta = {"tokenizer": data.info.to_dict(), "dtype": dtype, "files": files}
    fs.write_json(fs.join(out_dir, EXPORT_META), meta)
    return meta


@contextlib.contextmanager
def _csv_gz(path: str) -> Iterator:
    """A gzip stream written atomically to ``path`` (mtime 0: same bytes on every run)."""
    with fs.atomic_output(path) as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        yield out


def _read_tokens(path: str, dtype: np.dtype) -> np.ndarray:
    filesystem, inner = fs.resolve(path)
    size = filesystem.get_file_info(inner).size
    if size % dtype.itemsize:
        raise InputError(path, "truncated", f"{size} bytes is not a whole number of {dtype}")
    if fs.is_local(path):
        return np.memmap(path, dtype=dtype, mode="r") if size else np.zeros(0, dtype)
    return np.frombuffer(fs.read_bytes(path), dtype=dtype)


def _read_csv_gz(path: str, **options) -> pa.Table | None:
    """A gzipped CSV, or None for an empty file (no rows, not even a header)."""
    with fs.open_input(path) as raw, gzip.GzipFile(fileobj=raw, mode="rb") as f:
        data = f.read()
    if not data.strip():
        return None
    try:
        return pacsv.read_csv(io.BytesIO(data), **options)
    except pa.ArrowInvalid as e:  # a row with other columns, a bad number...
        raise InputError(path, "bad_labels", f"not a label list we read: {e}") from None


def _read_labels(path: str, n_tokens: int, npy: str) -> pa.Table | None:
    """The documents' spans (``start``, ``end``) and labels from the metadata beside ``npy``,
    in any of the three shapes the module docstring lists; None without metadata."""
    if not fs.exists(path):
        return None
    with fs.open_input(path) as raw, gzip.GzipFile(fileobj=raw, mode="rb") as f:
        headed = f.read(8).lstrip().startswith((b'"start"', b"start,"))
    types = {ID: pa.string(), SOURCE: pa.string(), "topic": pa.string(), "src": pa.string()}
    if headed:
        table = _read_csv_gz(path, convert_options=pacsv.ConvertOptions(column_types=types))
    else:
        table = _read_csv_gz(path, read_options=pacsv.ReadOptions(column_names=DOLMA_COLUMNS),
                             convert_options=pacsv.ConvertOptions(column_types=types))
        extra = path.removesuffix(".csv.gz") + EXTRA_SUFFIX
        if table is not None and fs.exists(extra):  # our export: src is our source
            table = table.rename_columns(
                [SOURCE if c == "src" else c for c in table.column_names])
            more = _read_csv_gz(extra, convert_options=pacsv.ConvertOptions(column_types=types))
            for column in more.column_names if more is not None else []:
                table = table.append_column(column, more.column(column))
        if table is not None:
            table = table.drop([c for c in ("src", "loc") if c in table.column_names])
    if table is None:
        table = pa.table({"start": pa.array([], pa.int64()), "end": pa.array([], pa.int64())})
    starts, ends = (table.column(c).to_numpy() for c in ("start", "end"))
    tiles = len(starts) == 0 or (starts[0] == 0 and (starts[1:] == ends[:-1]).all())
    if not tiles or (len(ends) and ends[-1] != n_tokens) or (len(ends) == 0 and n_tokens):
        raise InputError(path, "bad_labels",
                         f"the spans do not tile the {n_tokens} tokens of {npy}")
    return table


def _spans_from_eos(tokens: np.ndarray, eos: int) -> tuple[np.ndarray, np.ndarray]:
    ends = np.flatnonzero(tokens == eos) + 1
    if len(tokens) and (len(ends) == 0 or ends[-1] != len(tokens)):
        ends = np.append(ends, len(tokens))
    return np.concatenate([[0], ends])[:-1].astype(np.int64), ends.astype(np.int64)


def import_npy(paths: str | list[str], out_dir: str, tokenizer: TokenizerInfo | str,
               dtype: str = "uint32", source: str = "imported",
               max_shard_bytes: int = 512 << 20) -> dict:
    """Read ``.npy`` token arrays (and their ``.csv.gz`` label lists) into tokenized shards
    under ``out_dir``; returns the manifest written there."""
    info = expected_info(tokenizer)
    decoder = load_tokenizer(tokenizer) if isinstance(tokenizer, str) else None
    np_dtype = np.dtype(dtype).newbyteorder("<")
    shards = []
    for k, npy in enumerate(fs.expand(paths)):
        tokens = _read_tokens(npy, np_dtype)
        if len(tokens) and int(tokens.max()) >= info.vocab_size:
            bad = int(np.argmax(tokens >= info.vocab_size))
            raise InputError(f"{npy}:token {bad}", "bad_token",
                             f"id {int(tokens[bad])} is outside the vocabulary ({info.vocab_size})")
        stem = os.path.basename(npy).removesuffix(".npy")
        labels = _read_labels(fs.join(os.path.dirname(npy), f"{stem}.csv.gz"), len(tokens), npy)
        if labels is not None:
            starts, ends = labels.column("start").to_numpy(), labels.column("end").to_numpy()
        else:
            starts, ends = _spans_from_eos(tokens, info.eos_id)
        writer = ShardWriter(out_dir, f"part-{k:05d}", max_shard_bytes)
        for lo in range(0, len(starts), DOCS_PER_BATCH):
            hi = min(lo + DOCS_PER_BATCH, len(starts))
            table = _documents(tokens, starts[lo:hi], ends[lo:hi], info,
                               labels.slice(lo, hi - lo) if labels is not None else None,
                               decoder, f"{source}-{stem}", lo, source)
            writer.write(with_tokenizer_metadata(table, info))
        shards += [(f.path, f.checksum) for f in writer.close()]
    return write_manifest(out_dir, shards)


def _documents(tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray, info: TokenizerInfo,
               labels: pa.Table | None, decoder, id_prefix: str, first: int,
               source: str) -> pa.Table:
    """One batch of imported documents as a tokenized table."""
    values = np.asarray(tokens[starts[0]:ends[-1]], dtype=token_type(info).to_pandas_dtype())
    lengths = ends - starts
    nonempty = lengths > 0
    needs_eos = np.ones(len(lengths), bool)
    needs_eos[nonempty] = values[(ends - starts[0] - 1)[nonempty]] != info.eos_id
    if needs_eos.any():  # without labels only a file's trailing document lacks its EOS
        values = np.insert(values, (ends - starts[0])[needs_eos],
                           np.array(info.eos_id, values.dtype))
        lengths = lengths + needs_eos
    offsets = list_offsets(lengths).astype(np.int32)
    ids = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))
    cols: dict[str, pa.Array] = {}
    if labels is not None:
        cols |= {c: labels.column(c) for c in (ID, *DOMAIN_COLUMNS) if c in labels.column_names}
    if ID not in cols:
        cols[ID] = pa.array([f"{id_prefix}-{first + i}" for i in range(len(starts))])
    if SOURCE not in cols:
        cols[SOURCE] = pa.array([source] * len(starts), pa.string())
    cols[INPUT_IDS] = ids
    cols[N_TOKENS] = pa.array(lengths.astype(np.int64))
    if labels is not None and N_BYTES in labels.column_names:
        cols[N_BYTES] = labels.column(N_BYTES).cast(pa.int64())
    else:
        cols[N_BYTES] = pa.array(_decoded_bytes(ids, info, decoder), pa.int64())
    return pa.table(cols)


def _decoded_bytes(ids: pa.ListArray, info: TokenizerInfo, decoder) -> list[int]:
    if decoder is None:
        raise CurationError("without n_bytes in the label list, import needs the tokenizer.json "
                            "path (not only its TokenizerInfo) to count text bytes")
    specials = {info.eos_id} | ({info.bos_id} if info.bos_id is not None else set())
    texts = decoder.decode_batch([[t for t in doc if t not in specials]
                                  for doc in ids.to_pylist()], skip_special_tokens=False)
    return [len(t.encode("utf-8")) for t in texts]


def read_export_meta(out_dir: str) -> dict:
    return json.loads(fs.read_bytes(fs.join(out_dir, EXPORT_META)))
