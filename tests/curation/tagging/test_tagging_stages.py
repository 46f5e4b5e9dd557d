"""Topic, Quality and Vigintiles in a small pipeline (local executor) on the synthetic corpus,
with tiny fastText models trained here on the corpus's planted truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from classifiers.fasttext_model import FastTextParams, train
from curation import Pipeline, read
from curation import fasttext as fasttext_runtime
from curation.synthetic import GeneratorConfig, generate
from curation.tagging import TOPICS, Quality, Topic, Vigintiles, vigintile_grid, write_grid_report
from curation.tagging.vigintiles import cut_points

PARAMS = FastTextParams(dim=16, epoch=30, lr=0.5)


def head(text: str, words: int = 60) -> str:
    """The first ``words`` words: enough to learn from, and quick to train on."""
    return " ".join(text.split()[:words])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 600-document corpus in 3 shards, its truth, and two models trained on the truth."""
    root = tmp_path_factory.mktemp("tagging")
    generate(root / "corpus", GeneratorConfig(docs=600, seed=3, shard_docs=200))
    truth = pq.read_table(root / "corpus" / "truth.parquet").to_pylist()
    texts = []
    for shard in sorted((root / "corpus" / "docs").glob("*.jsonl.zst")):
        data = zstandard.ZstdDecompressor().decompressobj().decompress(shard.read_bytes())
        texts += [json.loads(line)["text"] for line in data.splitlines()]
    english = [(head(x), t) for x, t in zip(texts, truth, strict=True) if t["lang"] == "en"]
    train([x for x, _ in english], [t["topic"] for _, t in english], root / "topic.bin", PARAMS)
    train([x for x, _ in english], ["lq" if t["quality"] == "low" else "hq" for _, t in english],
          root / "quality.bin", PARAMS)
    return root, {t["id"]: t for t in truth}


def run(root: Path, *stages) -> pa.Table:
    p = Pipeline("tagging", str(root / "work"))
    node = p.source(read(str(root / "corpus" / "docs"), source="web"))
    for stage in stages:
        node = node >> stage
    p.sink(node, str(root / "out"))
    result = p.run(progress=False)
    return pa.concat_tables(pq.read_table(f) for f in result.outputs["sink"])


def test_pipeline_tags_and_buckets(world):
    root, truth = world
    before = len(fasttext_runtime._CACHE)
    out = run(root, Topic(root / "topic.bin", distribution=True, batch_size=64),
              Quality(root / "quality.bin"), Vigintiles(by="topic"))
    assert out.num_rows == 600
    assert len(fasttext_runtime._CACHE) == before + 2  # each model loaded once for 3 shards

    assert out.schema.field("topic_score").type == pa.float32()
    assert out.schema.field("quality").type == pa.float32()
    assert out.schema.field("vigintile").type == pa.int8()
    topics = out.column("topic").to_pylist()
    assert set(topics) <= set(TOPICS.ids)
    dist = np.array(out.column("topic_distribution").to_pylist())
    assert dist.shape == (600, 24)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0, atol=1e-3)
    np.testing.assert_allclose(dist.max(axis=1), out.column("topic_score").to_numpy(), rtol=1e-6)

    rows = [truth[i] for i in out.column("id").to_pylist()]
    english = np.array([r["lang"] == "en" for r in rows])
    right = np.array([t == r["topic"] for t, r in zip(topics, rows, strict=True)])
    original = np.array([r["kind"] == "original" for r in rows])
    assert right[original].mean() > 0.5  # a weak model, but far above the majority class
    direct, direct_score = fasttext_runtime.FastTextModel(root / "topic.bin").predict(
        out.column("text").to_pylist())
    assert topics == direct  # the stage reports exactly the model's own top label
    np.testing.assert_allclose(out.column("topic_score").to_numpy(), direct_score, rtol=1e-6)
    quality = out.column("quality").to_numpy()
    low = np.array([r["quality"] == "low" for r in rows])
    assert quality[low].mean() < 0.2 < 0.8 < quality[~low & english].mean()

    # vigintiles equal a recomputation on the whole output, per topic, word-weighted
    words = np.array([len(t.split()) for t in out.column("text").to_pylist()])
    v = out.column("vigintile").to_numpy()
    q64 = quality.astype(np.float64)
    for topic in set(topics):
        sel = np.array([t == topic for t in topics])
        expected = np.searchsorted(cut_points(q64[sel], words[sel]), q64[sel], side="left")
        np.testing.assert_array_equal(v[sel], expected)

    grid = vigintile_grid(str(f) for f in sorted((root / "out").glob("*.parquet")))
    assert sum(grid.column("docs").to_pylist()) == 600
    assert sum(grid.column("tokens").to_pylist()) == int(words.sum())
    paths = write_grid_report(grid, str(root / "report"))
    assert all(Path(p).stat().st_size > 0 for p in paths.values())


def test_stages_refuse_models_that_do_not_fit(world, tmp_path):
    root, _ = world
    with pytest.raises(FileNotFoundError):  # when a run starts or a task sets up, not before
        Topic(tmp_path / "missing.bin").identity()
    with pytest.raises(ValueError, match="outside the topic taxonomy"):
        Topic(root / "quality.bin").setup()  # labels hq / lq are not topics
    with pytest.raises(ValueError, match="no label 'positive'"):
        Quality(root / "quality.bin", positive_label="positive").setup()
    # the model file's hash is in the identity: a retrained model means a new fingerprint
    assert len(Quality(root / "quality.bin").identity()["artifacts"]["model"]) == 64


def test_topic_ties_go_to_the_models_first_label(tmp_path):
    """Probabilities tied between two labels: the topic is the model's first label of the tie
    (as ``FastTextModel.predict`` says), not the one first in taxonomy order."""
    from curation.core.stage import BatchContext
    from curation.core.stats import StageStats

    class Fake:  # labels in an order unlike the taxonomy's
        labels = (TOPICS.ids[5], TOPICS.ids[2], TOPICS.ids[9])

        def predict_proba(self, texts, batch_size):
            return np.tile(np.array([0.4, 0.4, 0.2], np.float32), (len(texts), 1))

    (tmp_path / "fake.bin").write_bytes(b"x")
    stage = Topic(tmp_path / "fake.bin")
    stage._model = Fake()
    stage._check(stage._model)
    batch = pa.table({"text": ["a", "b"]})
    out = stage.process(batch, BatchContext(seed=0, shard=0, stats=StageStats()))
    assert out.column("topic").to_pylist() == [TOPICS.ids[5]] * 2
    assert out.column("topic_score").to_pylist() == pytest.approx([0.4, 0.4])
