"""Hostile input, generated here (never committed): bad bytes, huge and tiny documents, deep
nesting, wrong types, lying file extensions, a zstd bomb and symlinks leaving the input root.
Each gets the documented behaviour: an error naming the file and line, or quarantine with a
count; memory stays bounded (measured as the peak RSS of a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from corpora import write_jsonl

from curation import Pipeline, read
from curation.core.errors import InputError, TaskFailed
from curation.core.quarantine import Quarantine
from curation.dedup import ExactDedup

MiB = 1 << 20


def read_all(path, mode: str = "quarantine", **options) -> tuple[list[dict], Counter, Counter]:
    """Rows, quarantine counts and drop counts of reading one file."""
    reader = read(str(path), source="s", on_error=mode, **options)
    q = Quarantine(mode, str(path) + ".quarantine.jsonl")
    drops: Counter = Counter()
    rows = [r for t in reader.read(str(path), q, drops) for r in t.to_pylist()]
    q.commit()
    return rows, q.counts, drops


def quarantined(path) -> list[dict]:
    """The quarantine records ``read_all`` wrote for ``path``."""
    with open(str(path) + ".quarantine.jsonl", "rb") as f:
        return [json.loads(line) for line in f]


def test_invalid_utf8_is_named_by_line_or_quarantined(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"text": "fine"}, b'{"text": "caf\xe9 \xff"}'])
    with pytest.raises(InputError, match=r"a\.jsonl:line 2: invalid UTF-8 at byte 13") as e:
        read_all(path, "raise")
    assert e.value.reason == "bad_utf8"
    rows, counts, _ = read_all(path)
    assert [r["text"] for r in rows] == ["fine"] and counts == {"bad_utf8": 1}
    assert quarantined(path)[0]["location"].endswith("a.jsonl:line 2")


def test_nul_and_control_characters(tmp_path):
    escaped = "nul \x00, bell \x07, escape \x1b[31m, del \x7f, c1 \x85"
    path = write_jsonl(tmp_path / "c.jsonl", [
        b'{"text": "raw nul \x00 inside"}',  # raw control bytes are not JSON
        b'{"text": "raw \x01\x1f"}',
        {"text": escaped},  # escaped they are, and are kept verbatim
    ])
    with pytest.raises(InputError, match=r"c\.jsonl:line 1: malformed JSON: unexpected control"):
        read_all(path, "raise")
    rows, counts, _ = read_all(path)
    assert [r["text"] for r in rows] == [escaped] and counts == {"malformed_json": 2}
    # through a pipeline to Parquet and back, byte for byte
    p = Pipeline("ctl", str(tmp_path / "w"))
    p.sink(p.source(read(str(tmp_path / "c.jsonl"), source="s", on_error="quarantine")),
           str(tmp_path / "o"))
    p.run(progress=False)
    assert pq.read_table(tmp_path / "o" / "part-00000-000.parquet")["text"].to_pylist() == [
        escaped]


def test_deeply_nested_json(tmp_path):
    deep = b"[" * 100_000 + b"]" * 100_000
    path = write_jsonl(tmp_path / "n.jsonl", [
        b'{"text": "x", "meta": ' + deep + b"}",
        b'{"text": ' + b'{"a": ' * 200 + b"1" + b"}" * 200 + b"}",
        {"text": "ok", "meta": json.loads("[" * 500 + "]" * 500)},
    ])
    rows, counts, _ = read_all(path)
    assert [r["text"] for r in rows] == ["ok"]
    assert counts == {"malformed_json": 1, "missing_text": 1}
    first, second = quarantined(path)
    assert "depth" in first["message"] and first["location"].endswith("line 1")
    assert second["message"] == "record has a non-string (dict) 'text' field"


def test_wrong_types_in_columns(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [
        {"text": 5}, {"text": ["a"]}, {"text": None},
        {"text": "a", "id": 7}, {"text": "b", "created": 12345},
        {"text": "c", "created": "yesterday"}, {"text": "d", "url": {"u": 1}},
    ])
    rows, counts, _ = read_all(path)
    assert counts == {"missing_text": 3, "bad_created": 2}
    assert [(r["id"], r["text"], r["url"]) for r in rows[:1]] == [("7", "a", None)]
    assert rows[1]["text"] == "d" and rows[1]["url"] == "{'u': 1}"
    typed = write_jsonl(tmp_path / "typed.jsonl", [{"text": "a", "score": 0.5},
                                                   {"text": "b", "score": "high"},
                                                   {"text": "c", "score": 2}])
    with pytest.raises(InputError, match=r"typed\.jsonl:line 2: a column does not fit"):
        read_all(typed, "raise", columns={"score": pa.float64()})
    rows, counts, _ = read_all(typed, columns={"score": pa.float64()})
    assert [(r["text"], r["score"]) for r in rows] == [("a", 0.5), ("c", 2.0)]
    assert counts == {"bad_type": 1}  # only the row that does not fit


def test_duplicate_ids_are_kept_apart_and_dedup_is_deterministic(tmp_path):
    # ids are not checked for uniqueness (see README); duplicates must not confuse dedup
    records = [{"id": "x", "text": "same"}, {"id": "x", "text": "other"},
               {"id": "x", "text": "same"}, {"id": "y", "text": "same"}]
    write_jsonl(tmp_path / "d.jsonl", records)
    outs = []
    for k in range(2):
        p = Pipeline("dup", str(tmp_path / f"w{k}"))
        p.sink(p.source(read(str(tmp_path / "d.jsonl"), source="s")) >> ExactDedup(),
               str(tmp_path / f"o{k}"))
        p.run(progress=False)
        outs.append((tmp_path / f"o{k}" / "part-00000-000.parquet").read_bytes())
    table = pq.read_table(tmp_path / "o0" / "part-00000-000.parquet")
    assert sorted(zip(table["id"].to_pylist(), table["text"].to_pylist(), strict=True)) == [
        ("x", "other"), ("x", "same")]
    assert outs[0] == outs[1]


def test_files_that_lie_about_their_format(tmp_path):
    plain = b'{"text": "I am plain text"}\n'
    (tmp_path / "a.jsonl.zst").write_bytes(plain)
    (tmp_path / "b.jsonl.gz").write_bytes(plain)
    (tmp_path / "c.parquet").write_bytes(plain)
    for name, why in (("a.jsonl.zst", "Unknown frame descriptor"),
                      ("b.jsonl.gz", "Not a gzipped file"),
                      ("c.parquet", "not a readable Parquet file")):
        with pytest.raises(InputError, match=why) as e:
            read_all(tmp_path / name, "raise")
        assert e.value.location == str(tmp_path / name) and e.value.reason == "unreadable"
        rows, counts, _ = read_all(tmp_path / name)
        assert rows == [] and counts == {"unreadable": 1}
    # through a run: one line naming the step, the shard and the file
    p = Pipeline("lie", str(tmp_path / "w"))
    p.sink(p.source(read(str(tmp_path / "a.jsonl.zst"), source="s")), str(tmp_path / "o"))
    with pytest.raises(TaskFailed, match=r"map task 0 .*a\.jsonl\.zst: cannot read the file"):
        p.run(progress=False)


def test_symlinks_leaving_the_input_root_are_refused(tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    write_jsonl(outside / "s.jsonl", [{"text": "private"}])
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    write_jsonl(root / "a.jsonl", [{"text": "public"}])
    (root / "inside.jsonl").symlink_to(root / "a.jsonl")  # inside the root: fine
    assert len(read(str(root)).files()) == 2
    (root / "sub" / "leak.jsonl").symlink_to(outside / "s.jsonl")
    for paths in (str(root), str(root / "**" / "*.jsonl"), str(root / "sub" / "*.jsonl")):
        with pytest.raises(InputError, match="outside the input root") as e:
            read(paths).files()
        assert e.value.location.endswith("sub/leak.jsonl")
    os.remove(root / "sub" / "leak.jsonl")
    (root / "sub" / "dir").symlink_to(outside)  # a directory link is refused too
    with pytest.raises(InputError, match="outside the input root"):
        read(str(root)).files()
    with pytest.raises(InputError, match="outside the input root"):
        read(str(root / "*" / "*" / "*.jsonl")).files()
    assert read(str(outside / "s.jsonl")).files() == [str(outside / "s.jsonl")]  # named: read


# -- size: a subprocess reads the file and reports its peak RSS ------------------------------

MEASURE = textwrap.dedent("""
    import json, resource, sys, time
    from collections import Counter
    from curation import read
    from curation.core.errors import InputError
    from curation.core.quarantine import Quarantine
    path, mode = sys.argv[1], sys.argv[2]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, rows, error = time.perf_counter(), 0, None
    q = Quarantine(mode, path + ".q.jsonl")
    try:
        for table in read(path, source="s", on_error=mode).read(path, q, Counter()):
            rows += table.num_rows
        q.commit()
    except InputError as e:
        error = str(e)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows, "counts": q.counts, "error": error,
                      "seconds": time.perf_counter() - t0, "grew_mib": (peak - before) / 1024}))
""")


def measure(path, mode: str = "quarantine") -> dict:
    """``MEASURE`` run on ``path``: rows, counts, error, seconds and peak RSS growth (MiB)."""
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path), mode], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def quarantined_q(path) -> list[dict]:
    """What ``MEASURE`` quarantined."""
    with open(str(path) + ".q.jsonl", "rb") as f:
        return [json.loads(line) for line in f]


def test_100_mb_single_line_document_in_bounded_memory(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as f:
        f.write(b'{"text": "')
        block = b"0123456789abcdef" * (MiB // 16)
        for _ in range(100):
            f.write(block)
        f.write(b'"}\n{"text": "the next line is read"}\n')
    result = measure(path)
    assert result["rows"] == 1 and result["counts"] == {"too_large": 1}
    assert result["grew_mib"] < 48, result  # the 100 MiB line is skipped, never held
    print(f"100 MiB line: peak RSS grew {result['grew_mib']:.1f} MiB in {result['seconds']:.2f} s")
    line = quarantined_q(path)[0]
    assert line["location"].endswith("huge.jsonl:line 1") and line["raw_bytes"] == 0
    strict = measure(path, "raise")
    assert strict["error"].startswith(f"{path}:line 1: document of ") and strict["rows"] == 0


def zstd_bomb(path, gib: int) -> int:
    """One zstd frame inflating to ``gib`` GiB of a single JSON line, then one small line."""
    with open(path, "wb") as f, zstandard.ZstdCompressor(level=1).stream_writer(f) as w:
        w.write(b'{"text": "')
        block = b"a" * (64 * MiB)
        for _ in range(16 * gib):
            w.write(block)
        w.write(b'"}\n{"text": "after the bomb"}\n')
    return os.path.getsize(path)


def test_zstd_bomb_stops_at_the_document_bound(tmp_path):
    path = tmp_path / "bomb.jsonl.zst"
    assert zstd_bomb(path, 1) < 64 * 1024  # 1 GiB in a few tens of KB
    strict = measure(path, "raise")
    assert strict["error"].startswith(f"{path}:line 1: document of ")
    assert strict["grew_mib"] < 80 and strict["seconds"] < 5, strict  # stops at the bound
    lenient = measure(path)
    assert lenient["rows"] == 1 and lenient["counts"] == {"too_large": 1}
    assert lenient["grew_mib"] < 80, lenient  # streamed through, never inflated in memory
    print(f"1 GiB zstd bomb: raise mode stops in {strict['seconds']:.2f} s "
          f"(+{strict['grew_mib']:.1f} MiB), quarantine mode streams it in "
          f"{lenient['seconds']:.2f} s (+{lenient['grew_mib']:.1f} MiB)")


def test_a_million_tiny_documents(tmp_path):
    path = tmp_path / "tiny.jsonl"
    with open(path, "wb") as f:
        f.write(b"".join(b'{"text": "d%d"}\n' % i for i in range(1_000_000)))
    t0 = time.perf_counter()
    p = Pipeline("tiny", str(tmp_path / "w"))
    p.sink(p.source(read(str(path), source="s")), str(tmp_path / "o"))
    result = p.run(progress=False)
    seconds = time.perf_counter() - t0
    assert result.stats["s"].docs_out == 1_000_000
    table = pa.concat_tables(pq.read_table(f, columns=["text"])
                             for f in sorted((tmp_path / "o").glob("*.parquet")))
    assert table.num_rows == 1_000_000 and table["text"][999_999].as_py() == "d999999"
    print(f"1M tiny documents read and written in {seconds:.1f} s "
          f"({1e6 / seconds:,.0f} docs/s)")
    assert seconds < 20
