"""``curate inspect`` on a work dir, a tokenized dataset and a mix plan: tables, samples of
rejected documents, and an HTML page whose plots are real, non-blank images."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from corpora import corpus, write_jsonl

from curation import Pipeline, read
from curation.cli import main
from curation.core.errors import CurationError
from curation.dedup import ExactDedup
from curation.filters import DocumentLength
from curation.mixing.mix_plan import MixPlan, PlanEntry
from curation.report import gather
from curation.tokenize import Tokenize


@pytest.fixture
def run_dir(tmp_path, tokenizer_path):
    (tmp_path / "in").mkdir()
    docs = corpus(60) + [{"id": f"short-{i}", "text": "tiny"} for i in range(5)]
    write_jsonl(tmp_path / "in" / "a.jsonl", docs)
    p = Pipeline("inspect", str(tmp_path / "w"))
    src = p.source(read(str(tmp_path / "in" / "a.jsonl"), source="web"))
    p.sink(src >> DocumentLength(min_chars=20, keep_rejects=True) >> ExactDedup(partitions=2)
           >> Tokenize(tokenizer_path), str(tmp_path / "o"))
    p.run(progress=False)
    return tmp_path


def images(page: str) -> list[np.ndarray]:
    import matplotlib.image

    return [matplotlib.image.imread(io.BytesIO(base64.b64decode(b)), format="png")
            for b in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)]


def test_work_dir_tables_samples_and_html(run_dir, capsys):
    html = run_dir / "report.html"
    assert main(["inspect", str(run_dir / "w"), "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert "document_length" in out and "too_short=5" in out and "exact_duplicate=" in out
    assert "document_length / too_short:" in out and "'tiny'" in out  # a sample document
    assert "65 documents" not in out and "documents, " in out  # the sink's dataset summary
    page = html.read_text()
    pictures = images(page)
    assert len(pictures) >= 3  # funnel, drops, tokens per source
    assert all(p.std() > 0.01 for p in pictures)  # not blank


def test_tagged_dataset_has_a_topic_by_vigintile_grid(tmp_path, tokenizer_path, capsys):
    import pyarrow as pa

    (tmp_path / "in").mkdir()
    docs = [{"text": f"document number {i} about things", "topic": ["art", "health"][i % 2],
             "vigintile": i % 20} for i in range(200)]
    write_jsonl(tmp_path / "in" / "a.jsonl", docs)
    p = Pipeline("grid", str(tmp_path / "w"))
    cols = {"topic": pa.string(), "vigintile": pa.int64()}
    p.sink(p.source(read(str(tmp_path / "in" / "a.jsonl"), source="web", columns=cols))
           >> Tokenize(tokenizer_path), str(tmp_path / "o"))
    p.run(progress=False)
    view = gather(str(tmp_path / "o"))
    grid = view.grid()
    assert grid["topic"].to_list() == ["art", "health"]
    assert grid.drop("topic").to_numpy().sum() == view.totals["tokens"]
    assert (grid.drop("topic").to_numpy() > 0).sum() == 20  # art: even vigintiles, health: odd
    html = tmp_path / "grid.html"
    assert main(["inspect", str(tmp_path / "o"), "--html", str(html)]) == 0
    assert "topic x vigintile" in capsys.readouterr().out
    assert len(images(html.read_text())) == 2  # tokens per source, heatmap


def test_plan_view(tmp_path, capsys):
    plan = MixPlan(tuple(PlanEntry("web", "science", v, 1000 + 10 * v, 0.1 * v)
                         for v in range(20)) + (PlanEntry("code", None, None, 5000, 1.0),))
    path = plan.save(str(tmp_path / "mix.json"))
    html = tmp_path / "mix.html"
    assert main(["inspect", path, "--html", str(html)]) == 0
    assert "in the mix" in capsys.readouterr().out
    assert len(images(html.read_text())) == 2  # shares before/after, repetition curve


def test_unknown_path_is_a_clear_error(tmp_path):
    with pytest.raises(CurationError, match="not a work dir"):
        gather(str(tmp_path))


def test_dataset_tables_order_ties_by_name():
    """Domains with equal tokens and documents come in name order, the same on every call
    (polars' group_by alone gives them in a different order each time)."""
    import polars as pl

    from curation.report.gather import DatasetView

    names = [f"s{i:02d}" for i in range(20)]
    domains = pl.DataFrame({"source": names[::-1] + ["big"], "docs": [1] * 20 + [9],
                            "tokens": [5] * 20 + [50], "text_bytes": [3] * 21})
    view = DatasetView("x", {"docs": 29, "tokens": 150}, None, domains)
    for _ in range(5):
        assert view.by("source")["source"].to_list() == ["big", *names]
