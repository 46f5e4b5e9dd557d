"""Export to raw .npy arrays with label lists, and import back, losslessly."""

from __future__ import annotations

import csv
import gzip
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.core.errors import InputError
from curation.tokenize import TokenizedDataset, export_npy, import_npy, read_manifest
from curation.tokenize.export import read_export_meta

COLUMNS = ["id", "source", "topic", "input_ids", "n_tokens", "n_bytes"]


def table_of(directory: str) -> pa.Table:
    data = TokenizedDataset(directory)
    table = pa.Table.from_batches(list(data.batches()))
    return table.select([c for c in COLUMNS if c in table.column_names])


def test_export_writes_eos_separated_arrays_and_labels(shards, tmp_path):
    meta = export_npy(shards, str(tmp_path / "npy"))
    assert meta == read_export_meta(str(tmp_path / "npy")) and meta["dtype"] == "uint32"
    original = table_of(shards)
    flat = np.concatenate([np.fromfile(tmp_path / "npy" / f["npy"], dtype="<u4")
                           for f in meta["files"]])
    assert flat.tolist() == [t for ids in original.column("input_ids").to_pylist() for t in ids]
    assert (flat == 0).sum() == original.num_rows  # one EOS per document
    first = meta["files"][0]
    with gzip.open(tmp_path / "npy" / first["labels"], "rt") as f:  # Dolma's: no header
        row = next(csv.reader(f))
    doc = original.slice(0, 1).to_pylist()[0]
    assert row == ["0", str(doc["n_tokens"]), doc["id"], doc["source"], "0"]  # start,end,id,src,loc
    with gzip.open(tmp_path / "npy" / first["extra_labels"], "rt") as f:
        assert next(csv.reader(f)) == ["topic", "n_bytes"]


@pytest.mark.parametrize("dtype", ["uint32", "uint16"])
def test_round_trip_with_labels_is_lossless(shards, tmp_path, tokenizer_path, dtype):
    export_npy(shards, str(tmp_path / "npy"), dtype)
    manifest = import_npy(str(tmp_path / "npy" / "*.npy"), str(tmp_path / "back"),
                          tokenizer_path, dtype=dtype)
    assert table_of(str(tmp_path / "back")).equals(table_of(shards))
    assert manifest["totals"]["tokens"] == read_manifest(shards)["totals"]["tokens"]
    assert manifest["domains"] == read_manifest(shards)["domains"]


def test_import_without_labels_splits_at_eos(shards, tmp_path, tokenizer_path):
    meta = export_npy(shards, str(tmp_path / "npy"))
    for f in meta["files"]:
        os.remove(tmp_path / "npy" / f["labels"])
    import_npy(str(tmp_path / "npy" / "*.npy"), str(tmp_path / "back"), tokenizer_path,
               source="dolma")
    back, original = table_of(str(tmp_path / "back")), table_of(shards)
    for col in ("input_ids", "n_tokens", "n_bytes"):
        assert back.column(col).to_pylist() == original.column(col).to_pylist()
    assert set(back.column("source").to_pylist()) == {"dolma"}
    assert back.column("id")[0].as_py() == "dolma-part-00000-000-0"


def test_trailing_tokens_without_eos_become_a_document(tmp_path, tokenizer_path):
    np.array([5, 6, 0, 7, 8], "<u4").tofile(tmp_path / "raw.npy")
    import_npy(str(tmp_path / "raw.npy"), str(tmp_path / "back"), tokenizer_path)
    t = pq.read_table(tmp_path / "back" / "part-00000-000.parquet")
    assert t.column("input_ids").to_pylist() == [[5, 6, 0], [7, 8, 0]]


def test_bad_arrays_are_errors_naming_the_file(tmp_path, tokenizer_path):
    np.array([5, 999, 0], "<u4").tofile(tmp_path / "big.npy")
    with pytest.raises(InputError, match=r"big.npy:token 1: id 999 is outside the vocabulary"):
        import_npy(str(tmp_path / "big.npy"), str(tmp_path / "o1"), tokenizer_path)
    (tmp_path / "odd.npy").write_bytes(b"\x01\x00\x00\x00\x02\x00")
    with pytest.raises(InputError, match="odd.npy: 6 bytes is not a whole number of uint32"):
        import_npy(str(tmp_path / "odd.npy"), str(tmp_path / "o2"), tokenizer_path)


def test_labelled_documents_without_eos_each_get_one(tmp_path, tokenizer_path):
    """With a label list, any document may lack its EOS (not only the file's last one): each
    such document gets exactly one, after its own tokens; documents with one are unchanged."""
    np.array([5, 6, 7, 0, 8, 9, 0, 4], "<u4").tofile(tmp_path / "raw.npy")
    spans = [(0, 2), (2, 4), (4, 5), (5, 7), (7, 7), (7, 8)]  # incl. an empty document
    with gzip.open(tmp_path / "raw.csv.gz", "wt") as f:
        f.write('"start","end","id","n_bytes"\n')
        f.writelines(f"{a},{b},d{i},1\n" for i, (a, b) in enumerate(spans))
    import_npy(str(tmp_path / "raw.npy"), str(tmp_path / "back"), tokenizer_path)
    t = pq.read_table(tmp_path / "back" / "part-00000-000.parquet")
    tokens = [5, 6, 7, 0, 8, 9, 0, 4]
    expected = [tokens[a:b] + ([] if b > a and tokens[b - 1] == 0 else [0]) for a, b in spans]
    assert expected == [[5, 6, 0], [7, 0], [8, 0], [9, 0], [0], [4, 0]]
    assert t.column("input_ids").to_pylist() == expected
    assert t.column("n_tokens").to_pylist() == [len(e) for e in expected]
    assert t.column("id").to_pylist() == [f"d{i}" for i in range(len(spans))]


def test_an_empty_array_imports_as_no_documents(tmp_path, tokenizer_path):
    (tmp_path / "empty.npy").write_bytes(b"")
    np.array([5, 0], "<u4").tofile(tmp_path / "one.npy")
    manifest = import_npy([str(tmp_path / "empty.npy"), str(tmp_path / "one.npy")],
                          str(tmp_path / "back"), tokenizer_path)
    assert (manifest["totals"]["docs"], manifest["totals"]["tokens"]) == (1, 2)


def test_import_of_a_dolma_pair(tmp_path, tokenizer_path):
    """A pair as Dolma's tokenizer writes it: a headerless little-endian memmap of uint16 ids and
    a headerless gzipped CSV of ``start,end,id,src,loc`` rows written by Python's csv module
    (an id with a comma gets quoted). Ids and spans are kept; the source is the one asked for."""
    tokens = np.memmap(tmp_path / "part-0-00000.npy", dtype="<u2", mode="w+", shape=(7,))
    tokens[:] = [5, 6, 0, 7, 0, 8, 0]
    tokens.flush()
    rows = [(0, 3, "doc-a", "s3://bucket/documents/cc_en_head-0000.json.gz", 0),
            (3, 5, "doc,b", "s3://bucket/documents/cc_en_head-0000.json.gz", 1),
            (5, 7, "doc-c", "s3://bucket/documents/cc_en_head-0001.json.gz", 0)]
    with gzip.open(tmp_path / "part-0-00000.csv.gz", "wt", newline="") as f:
        csv.writer(f).writerows(rows)
    import_npy(str(tmp_path / "part-0-00000.npy"), str(tmp_path / "back"), tokenizer_path,
               dtype="uint16", source="dolma-cc")
    t = pq.read_table(tmp_path / "back" / "part-00000-000.parquet")
    assert t.column("id").to_pylist() == ["doc-a", "doc,b", "doc-c"]
    assert t.column("input_ids").to_pylist() == [[5, 6, 0], [7, 0], [8, 0]]
    assert set(t.column("source").to_pylist()) == {"dolma-cc"}
    assert t.column("n_tokens").type == pa.int64()


def test_a_malformed_label_list_is_an_error_naming_it(tmp_path, tokenizer_path):
    np.array([5, 0], "<u4").tofile(tmp_path / "raw.npy")
    with gzip.open(tmp_path / "raw.csv.gz", "wt") as f:
        f.write("0,2,doc-a,src,0\n0,1\n")  # a Dolma row, then a short one
    with pytest.raises(InputError, match=r"raw.csv.gz: not a label list we read"):
        import_npy(str(tmp_path / "raw.npy"), str(tmp_path / "back"), tokenizer_path)
