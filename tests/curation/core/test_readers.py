"""Readers: formats, ids, and every kind of bad input (clear error, or quarantine + count)."""

from __future__ import annotations

import json
from collections import Counter

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from corpora import corpus, write_jsonl

from curation import read
from curation.core.errors import InputError
from curation.core.quarantine import Quarantine


def read_all(reader, path, mode="raise", qpath=None):
    q = Quarantine(mode, qpath)
    drops: Counter = Counter()
    tables = list(reader.read(path, q, drops))
    q.commit()
    table = pa.concat_tables(tables) if tables else None
    return table, q.counts, drops


@pytest.mark.parametrize(
    "compression,suffix", [(None, ".jsonl"), ("gzip", ".jsonl.gz"), ("zstd", ".jsonl.zst")]
)
def test_jsonl_formats_read_the_same(tmp_path, compression, suffix):
    docs = corpus(50, dup_every=0)
    path = write_jsonl(tmp_path / f"a{suffix}", docs, compression)
    table, counts, drops = read_all(read(path, source="s"), path)
    assert table.column("id").to_pylist() == [d["id"] for d in docs]
    assert table.column("text").to_pylist() == [d["text"] for d in docs]
    assert table.schema.field("text").type == pa.large_string()
    assert table.schema.field("created").type == pa.timestamp("us", tz="UTC")
    assert set(table.column("source").to_pylist()) == {"s"}
    assert not counts and not drops


def test_parquet_and_small_batches(tmp_path):
    docs = corpus(30, dup_every=0)
    path = str(tmp_path / "a.parquet")
    pq.write_table(pa.Table.from_pylist(docs), path)
    table, _, _ = read_all(read(path, source="s", batch_rows=7), path)
    assert table.column("text").to_pylist() == [d["text"] for d in docs]


def test_missing_ids_are_stable_and_unique(tmp_path):
    docs = [{"text": "same text"}, {"text": "same text"}, {"text": "other"}]
    path = write_jsonl(tmp_path / "a.jsonl", docs)
    ids1 = read_all(read(path, source="web"), path)[0].column("id").to_pylist()
    ids2 = read_all(read(path, source="web"), path)[0].column("id").to_pylist()
    assert ids1 == ids2
    assert len(set(ids1)) == 3
    assert ids1[1] == ids1[0] + "-1" and ids1[0].startswith("web-")


def test_dates_with_offsets_and_bare_dates(tmp_path):
    docs = [
        {"text": "a", "created": "2024-01-02"},
        {"text": "b", "created": "2024-01-02T03:00:00+02:00"},
        {"text": "c"},
    ]
    path = write_jsonl(tmp_path / "a.jsonl", docs)
    created = read_all(read(path, source="s"), path)[0].column("created").to_pylist()
    assert [c.isoformat() if c else None for c in created] == [
        "2024-01-02T00:00:00+00:00",
        "2024-01-02T01:00:00+00:00",
        None,
    ]


def test_glob_and_directory_expansion(tmp_path):
    for k in range(3):
        write_jsonl(tmp_path / f"p{k}.jsonl", corpus(2))
    (tmp_path / ".hidden.jsonl").write_text("{}")
    assert len(read(str(tmp_path / "*.jsonl")).files()) == 3
    assert len(read(str(tmp_path)).files()) == 3
    with pytest.raises(InputError, match="no file matches"):
        read(str(tmp_path / "nothing-*.jsonl")).files()


# -- bad input: each gets a clear error naming file and line/row, or quarantine + count ----


def good_and(bad_line: bytes) -> list:
    return [{"text": "fine one"}, bad_line, {"text": "fine two"}]


@pytest.mark.parametrize(
    "bad,reason",
    [
        (b'{"text": "unterminated', "malformed_json"),
        (b'{"text": "caf\xe9 bad utf8"}', "bad_utf8"),
        (b'{"id": "x", "body": "no text field"}', "missing_text"),
        (b'{"text": null}', "missing_text"),
        (b"[1, 2, 3]", "malformed_json"),
    ],
)
def test_bad_jsonl_line_raises_with_file_and_line(tmp_path, bad, reason):
    path = write_jsonl(tmp_path / "bad.jsonl", good_and(bad))
    with pytest.raises(InputError) as e:
        read_all(read(path, source="s"), path)
    assert e.value.reason == reason
    assert f"{path}:line 2" in str(e.value)


@pytest.mark.parametrize(
    "bad,reason",
    [
        (b'{"text": "unterminated', "malformed_json"),
        (b'{"text": "caf\xe9 bad utf8"}', "bad_utf8"),
        (b'{"body": "no text"}', "missing_text"),
    ],
)
def test_bad_jsonl_line_quarantined_and_counted(tmp_path, bad, reason):
    path = write_jsonl(tmp_path / "bad.jsonl", good_and(bad))
    qpath = str(tmp_path / "q.jsonl")
    table, counts, _ = read_all(
        read(path, source="s", on_error="quarantine"), path, "quarantine", qpath
    )
    assert table.column("text").to_pylist() == ["fine one", "fine two"]
    assert counts == {reason: 1}
    with open(qpath, "rb") as f:
        (row,) = [orjson.loads(line) for line in f]
    assert row["reason"] == reason and row["location"] == f"{path}:line 2"
    assert row["raw_bytes"] == len(bad)


@pytest.mark.parametrize("compression,suffix", [("zstd", ".jsonl.zst"), ("gzip", ".jsonl.gz")])
def test_truncated_stream_is_an_error_naming_the_file(tmp_path, compression, suffix):
    docs = corpus(3000, dup_every=0)
    full = tmp_path / f"full{suffix}"
    write_jsonl(full, docs, compression)
    data = full.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as e:
        read_all(read(str(cut), source="s"), str(cut))
    assert str(cut) in str(e.value)
    assert ("truncated" if compression == "zstd" else "end-of-stream") in str(e.value)
    table, counts, _ = read_all(
        read(str(cut), source="s", on_error="quarantine"),
        str(cut),
        "quarantine",
        str(tmp_path / "q.jsonl"),
    )
    assert counts["unreadable"] == 1
    assert len(docs) // 3 < table.num_rows < len(docs)  # about half of them come before the cut
    # every document read before the cut is intact
    assert table.column("id").to_pylist() == [d["id"] for d in docs[: table.num_rows]]


def test_empty_files(tmp_path):
    for name in ("empty.jsonl", "empty.jsonl.zst"):
        path = tmp_path / name
        path.write_bytes(b"" if name.endswith("l") else zstandard.ZstdCompressor().compress(b""))
        with pytest.raises(InputError, match="no documents"):
            read_all(read(str(path), source="s"), str(path))
        _, counts, _ = read_all(
            read(str(path), source="s", on_error="quarantine"),
            str(path),
            "quarantine",
            str(tmp_path / f"{name}.q"),
        )
        assert counts == {"empty_file": 1}


def test_blank_texts_are_dropped_and_counted(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"text": ""}, {"text": "  \n "}, {"text": "ok"}])
    table, counts, drops = read_all(read(path, source="s"), path)
    assert table.column("text").to_pylist() == ["ok"] and drops == {"empty_text": 2}


def test_giant_document(tmp_path):
    giant = "word " * (10 * 1024 * 1024)  # 50 MiB of text on one line
    path = write_jsonl(tmp_path / "giant.jsonl", [{"text": "small"}, {"text": giant}])
    with pytest.raises(InputError) as e:
        read_all(read(path, source="s"), path)
    assert e.value.reason == "too_large" and f"{path}:line 2" in str(e.value)
    table, counts, _ = read_all(
        read(path, source="s", on_error="quarantine"), path, "quarantine", str(tmp_path / "q.jsonl")
    )
    assert table.num_rows == 1 and counts == {"too_large": 1}
    table, _, _ = read_all(read(path, source="s", max_doc_bytes=None), path)
    assert len(table.column("text")[1].as_py()) == len(giant)


def test_parquet_missing_text_column_and_null_rows(tmp_path):
    path = str(tmp_path / "a.parquet")
    pq.write_table(pa.table({"body": ["x", "y"]}), path)
    with pytest.raises(InputError, match="no 'text' column"):
        read_all(read(path, source="s"), path)
    _, counts, _ = read_all(
        read(path, source="s", on_error="quarantine"),
        path,
        "quarantine",
        str(tmp_path / "q1.jsonl"),
    )
    assert counts == {"missing_column": 2}
    pq.write_table(pa.table({"text": ["x", None, "z"]}), path)
    with pytest.raises(InputError) as e:
        read_all(read(path, source="s"), path)
    assert f"{path}:row 1" in str(e.value)
    table, counts, _ = read_all(
        read(path, source="s", on_error="quarantine"),
        path,
        "quarantine",
        str(tmp_path / "q2.jsonl"),
    )
    assert table.column("text").to_pylist() == ["x", "z"] and counts == {"missing_text": 1}


def test_not_parquet_at_all(tmp_path):
    path = tmp_path / "fake.parquet"
    path.write_text(json.dumps({"text": "I am JSON"}))
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_all(read(str(path), source="s"), str(path))
