"""The files written: byte-identical for a seed, stale shards removed, the command line."""

from __future__ import annotations

import orjson
import pyarrow.parquet as pq
from synthetic_corpus import read_shards, tree_bytes

from curation.synthetic import GeneratorConfig, generate
from curation.synthetic.generator import main


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    config = GeneratorConfig(docs=300, seed=3, shard_docs=128)
    generate(tmp_path / "a", config)
    generate(tmp_path / "b", config)
    first = tree_bytes(tmp_path / "a")
    assert first == tree_bytes(tmp_path / "b")
    assert len([name for name in first if name.startswith("docs/")]) == 3
    generate(tmp_path / "c", GeneratorConfig(docs=300, seed=4, shard_docs=128))
    other = tree_bytes(tmp_path / "c")
    assert other.keys() == first.keys()
    assert all(other[name] != first[name] for name in first)


def test_rerun_with_fewer_docs_removes_stale_shards(tmp_path):
    generate(tmp_path, GeneratorConfig(docs=50, shard_docs=10))
    generate(tmp_path, GeneratorConfig(docs=20, shard_docs=10))
    assert len(read_shards(tmp_path)) == 2
    assert pq.read_metadata(tmp_path / "truth.parquet").num_rows == 20


def test_main_prints_summary(tmp_path, capsys):
    main(["--out", str(tmp_path), "--docs", "40", "--seed", "1", "--shard-docs", "25"])
    summary = orjson.loads(capsys.readouterr().out)
    assert summary["docs"] == 40 and summary["shards"] == 2
    meta = orjson.loads((tmp_path / "meta.json").read_bytes())
    assert meta["config"]["seed"] == 1 and meta["kinds"] == summary["kinds"]
