"""The Tokenize stage in a pipeline: ids, EOS, dtypes, carried columns, manifest, mismatches."""

from __future__ import annotations

import os
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpora import write_jsonl

from curation import Pipeline, read
from curation.core.errors import PipelineValidationError
from curation.core.stage import BatchContext
from curation.core.stats import StageStats
from curation.filters import DocumentLength
from curation.tokenize import (
    Tokenize,
    TokenizedDataset,
    TokenizerInfo,
    TokenizerMismatch,
    load_tokenizer,
    read_manifest,
    tokenizer_of,
)
from curation.tokenize.stage import tokens_array

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "A page that quotes the literal <|endoftext|> marker in its body.",
    "日本語のテキスト and emoji 🙂🚀 with CRLF\r\nline breaks.",
    "def main():\n    return {'answer': 42}\n",
    "x",
]


def make_inputs(root) -> str:
    os.makedirs(root, exist_ok=True)
    write_jsonl(os.path.join(root, "a.jsonl"),
                [{"id": f"a{i}", "text": t, "topic": "t1" if i % 2 else "t2"}
                 for i, t in enumerate(TEXTS * 4)])
    write_jsonl(os.path.join(root, "b.jsonl"),
                [{"id": f"b{i}", "text": t, "topic": "t1"} for i, t in enumerate(TEXTS[:3])])
    return str(root)


def tokenize_pipeline(inputs: str, work: str, out: str, tokenizer: str, **options) -> Pipeline:
    p = Pipeline("tok", work, max_shard_bytes=options.pop("max_shard_bytes", 512 << 20))
    topic = {"topic": pa.string()}
    a = p.source(read(os.path.join(inputs, "a.jsonl"), source="web", columns=topic))
    b = p.source(read(os.path.join(inputs, "b.jsonl"), source="code", columns=topic))
    p.sink(p.union(a, b) >> Tokenize(tokenizer, **options), out)
    return p


def read_out(out: str) -> pa.Table:
    return pa.concat_tables(pq.read_table(os.path.join(out, f))
                            for f in sorted(os.listdir(out)) if f.endswith(".parquet"))


@pytest.fixture
def tokenized(tmp_path, tokenizer_path):
    inputs = make_inputs(tmp_path / "in")
    result = tokenize_pipeline(inputs, str(tmp_path / "w"), str(tmp_path / "o"),
                               tokenizer_path, max_shard_bytes=2_000).run(progress=False)
    return tmp_path / "o", result


def test_ids_decode_like_the_tokenizer_and_end_with_one_eos(tokenized, tokenizer_path):
    out, _ = tokenized
    table = read_out(str(out))
    tok = load_tokenizer(tokenizer_path)
    tok.encode_special_tokens = True
    texts = dict(zip([f"a{i}" for i in range(20)], TEXTS * 4, strict=True))
    texts |= {f"b{i}": t for i, t in enumerate(TEXTS[:3])}
    assert sorted(table.column("id").to_pylist()) == sorted(texts)
    for row in table.to_pylist():
        text, ids = texts[row["id"]], row["input_ids"]
        assert ids[-1] == 0 and 0 not in ids[:-1]  # EOS once, at the end
        assert ids[:-1] == tok.encode(text, add_special_tokens=False).ids
        assert tok.decode(ids[:-1]) == text
        assert row["n_tokens"] == len(ids) and row["n_bytes"] == len(text.encode())


def test_schema_carries_columns_dtype_and_tokenizer(tokenized, tokenizer_path):
    out, result = tokenized
    schema = pq.read_schema(os.path.join(out, "part-00000-000.parquet"))
    assert schema.names == ["id", "source", "topic", "input_ids", "n_tokens", "n_bytes"]
    assert schema.field("input_ids").type == pa.list_(pa.uint16())
    assert schema.field("n_tokens").type == pa.int64()  # int32 sums wrapped past 2**31 in polars
    info = tokenizer_of(schema)
    assert info.hash == Tokenize(tokenizer_path).tokenizer_info.hash and info.eos_id == 0
    s = result.stats["tokenize"]
    table = read_out(str(out))
    assert s.tokens_out == sum(table.column("n_tokens").to_pylist())
    assert s.bytes_out == s.bytes_in == sum(table.column("n_bytes").to_pylist())


def test_manifest_totals_are_the_sums_over_shards_and_domains(tokenized):
    out, _ = tokenized
    manifest = read_manifest(str(out))
    assert manifest["totals"]["shards"] == len(manifest["shards"]) > 1
    table = read_out(str(out))
    assert manifest["totals"]["tokens"] == sum(s["tokens"] for s in manifest["shards"]) \
        == sum(table.column("n_tokens").to_pylist())
    assert manifest["totals"]["docs"] == table.num_rows == 23
    for shard in manifest["shards"]:
        t = pq.read_table(os.path.join(out, shard["path"]))
        assert (shard["docs"], shard["tokens"]) == (t.num_rows, sum(t["n_tokens"].to_pylist()))
    expected: Counter = Counter()
    for r in table.select(["source", "topic", "n_tokens"]).to_pylist():
        expected[(r["source"], r["topic"])] += r["n_tokens"]
    assert {(d["source"], d["topic"]): d["tokens"] for d in manifest["domains"]} == expected
    assert "vigintile" not in manifest["domains"][0]


def test_consumer_refuses_another_tokenizer(tokenized, tokenizer_path, other_tokenizer_path,
                                            tmp_path):
    out, _ = tokenized
    data = TokenizedDataset(str(out), expect=tokenizer_path, verify_checksums=True)
    assert data.n_tokens == sum(b.column("n_tokens").to_numpy().sum() for b in data.batches())
    with pytest.raises(TokenizerMismatch, match="manifest.json: tokenized with tokenizer.json"):
        TokenizedDataset(str(out), expect=other_tokenizer_path)

    # one shard swapped for another tokenizer's output: refused when read, naming the file
    other = tokenize_pipeline(make_inputs(tmp_path / "in2"), str(tmp_path / "w2"),
                              str(tmp_path / "o2"), other_tokenizer_path).run(progress=False)
    victim = data.shards[-1]
    os.replace(other.outputs["sink"][0], victim)
    with pytest.raises(TokenizerMismatch, match=f"{os.path.basename(victim)}: tokenized with"):
        list(data.batches())


def test_stage_after_tokenize_cannot_ask_for_text(tmp_path, tokenizer_path):
    p = Pipeline("bad", str(tmp_path / "w"))
    docs = p.source(read(str(tmp_path / "*.jsonl"), source="s"))
    p.sink(docs >> Tokenize(tokenizer_path) >> DocumentLength(10), str(tmp_path / "o"))
    with pytest.raises(PipelineValidationError, match="'document_length' needs column 'text'"):
        p.validate()


def test_empty_texts_are_dropped_with_a_reason(tokenizer_path):
    stage = Tokenize(tokenizer_path)
    stage.setup()
    stats = StageStats()
    batch = pa.table({"id": ["a", "b", "c"], "text": pa.array(["hi", "", "yo"], pa.large_string())})
    out = stage.process(batch, BatchContext(0, 0, stats))
    assert out.column("id").to_pylist() == ["a", "c"] and stats.dropped == {"empty_text": 1}


@pytest.mark.parametrize("texts", [["hi", None, "", "yo"], ["hi", None, "yo"]])
def test_null_texts_are_dropped_and_counted_too(tokenizer_path, texts):
    """No row leaves the stage uncounted: a null text is dropped as ``empty_text`` whether or not
    the batch also holds an empty one (rows in = rows out + drops)."""
    stage = Tokenize(tokenizer_path)
    stage.setup()
    stats = StageStats()
    ids = [f"d{i}" for i in range(len(texts))]
    batch = pa.table({"id": ids, "text": pa.array(texts, pa.large_string())})
    out = stage.process(batch, BatchContext(0, 0, stats))
    assert out.column("id").to_pylist() == [i for i, t in zip(ids, texts, strict=True) if t]
    assert out.num_rows + sum(stats.dropped.values()) == len(texts)


def test_bad_utf8_is_quarantined_and_counted(tmp_path, tokenizer_path):
    (tmp_path / "in").mkdir()
    write_jsonl(tmp_path / "in" / "a.jsonl",
                [{"text": "good one"}, b'{"text": "bad \xff byte"}', {"text": "good two"}])
    p = Pipeline("q", str(tmp_path / "w"))
    docs = p.source(read(str(tmp_path / "in" / "a.jsonl"), source="s", on_error="quarantine"))
    p.sink(docs >> Tokenize(tokenizer_path), str(tmp_path / "o"))
    result = p.run(progress=False)
    assert result.stats["s"].quarantined == {"bad_utf8": 1}
    assert read_out(str(tmp_path / "o")).num_rows == 2


def test_bos_and_uint32_layout():
    info = TokenizerInfo("h", "t", 70_000, eos_id=5, bos_id=7)
    arr = tokens_array([[100, 66_000], [], [3]], info)
    assert arr.type == pa.list_(pa.uint32())
    assert arr.to_pylist() == [[7, 100, 66_000, 5], [7, 5], [7, 3, 5]]


@pytest.mark.ray
def test_local_and_ray_write_identical_shards(tmp_path, tokenizer_path, ray_cluster):
    inputs = make_inputs(tmp_path / "in")
    outs = {}
    for executor in ("local", "ray"):
        out = str(tmp_path / f"o-{executor}")
        tokenize_pipeline(inputs, str(tmp_path / f"w-{executor}"), out, tokenizer_path).run(
            executor, progress=False)
        outs[executor] = {f.name: f.read_bytes() for f in (tmp_path / f"o-{executor}").iterdir()}
    assert outs["local"] == outs["ray"]


def test_token_batches_past_int32_offsets_are_refused():
    """``list<uint*>`` offsets are int32: a batch of more than 2^31 - 1 ids must be an error,
    not offsets that wrap around (lengths faked, nothing of that size is allocated)."""
    from curation.core.errors import CurationError

    class Huge:  # a document of 2^30 tokens, by its length only
        def __len__(self) -> int:
            return 1 << 30

    info = TokenizerInfo("h", "n", 400, 0)
    with pytest.raises(CurationError, match="int32 offsets"):
        tokens_array([Huge(), Huge()], info)  # 2^31 + 2 ids with the EOS
    assert tokens_array([[5, 6], []], info).offsets.to_pylist() == [0, 3, 4]

