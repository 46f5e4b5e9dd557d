"""``curate inspect`` on a work dir, a tokenized dataset and a mix plan: tables, samples of
rejected documents, and an HTML page of real tables (read back with ``html.parser``: cells,
right-aligned numbers, escaping) whose plots are real, non-blank images with alt text."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

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


@dataclass
class Table:
    caption: str = ""
    header: list[str] = field(default_factory=list)
    header_attrs: list[dict] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # the <tbody>'s, cell texts
    classes: list[list[str]] = field(default_factory=list)  # the class of each of those cells

    def column(self, name: str) -> list[str]:
        return [row[self.header.index(name)] for row in self.rows]

    def row(self, first: str) -> dict[str, str]:
        """The row whose first cell is ``first``, column name -> text."""
        (row,) = [r for r in self.rows if r[0] == first]
        return dict(zip(self.header, row, strict=True))

    def numeric(self, name: str) -> list[float]:
        return [float(v.replace(",", "")) for v in self.column(name)]


@dataclass
class Figure:
    caption: str = ""
    alt: str | None = None
    src: str = ""


class Page(HTMLParser):
    """What an HTML page holds, as ``html.parser`` reads it (texts unescaped): its tables
    (header cells inside <thead>, rows inside <tbody>), figures, <pre> blocks and scripts."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: list[Table] = []
        self.figures: list[Figure] = []
        self.tags: list[str] = []  # every start tag, in order
        self.scripts: list[str] = []
        self.h1 = ""
        self._text: list[str] | None = None  # the text being collected, if any
        self._section = self._class = ""
        self._attrs: dict = {}
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "table":
            self.tables.append(Table())
        elif tag in ("thead", "tbody"):
            self._section = tag
        elif tag == "tr" and self._section == "tbody":
            self.tables[-1].rows.append([])
            self.tables[-1].classes.append([])
        elif tag == "figure":
            self.figures.append(Figure())
        elif tag == "img" and self.figures:
            self.figures[-1].alt, self.figures[-1].src = attrs.get("alt"), attrs["src"]
        if tag in ("th", "td", "caption", "figcaption", "script", "h1"):
            self._text, self._class, self._attrs = [], attrs.get("class") or "", attrs

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        text = "".join(self._text or [])
        if tag in ("thead", "tbody"):
            self._section = ""
        elif tag == "th" and self._section == "thead":
            self.tables[-1].header.append(text)
            self.tables[-1].header_attrs.append(self._attrs)
        elif tag == "td" and self._section == "tbody":
            self.tables[-1].rows[-1].append(text)
            self.tables[-1].classes[-1].append(self._class)
        elif tag == "caption":
            self.tables[-1].caption = text
        elif tag == "figcaption":
            self.figures[-1].caption = text
        elif tag == "script":
            self.scripts.append(text)
        elif tag == "h1":
            self.h1 = text
        if tag in ("th", "td", "caption", "figcaption", "script", "h1"):
            self._text = None

    def table(self, caption: str) -> Table:
        """The one table whose caption starts with ``caption``."""
        (table,) = [t for t in self.tables if t.caption.startswith(caption)]
        return table


def check_page(page: str) -> Page:
    """``page`` parsed, after the checks every report passes: tables with a header and rows,
    numbers (and only numbers) right-aligned, no <pre>, a figure per PNG with its alt text."""
    parsed = Page(page)
    assert "pre" not in parsed.tags and parsed.tables
    for table in parsed.tables:
        assert table.caption and table.header and table.rows
        header = [a.get("class") or "" for a in table.header_attrs]
        for row, classes in zip(table.rows, table.classes, strict=True):
            assert classes == header  # a column's cells are all numbers, or none are
            for name, text, cls in zip(table.header, row, classes, strict=True):
                number = re.fullmatch(r"-?\d{1,3}(,\d{3})*(\.\d+)?(e[-+]\d+)?|nan|inf|", text)
                assert cls == "" or number, (table.caption, name, text)
    assert len(parsed.figures) == len(images(page)) == parsed.tags.count("img")
    for figure in parsed.figures:
        assert figure.caption and figure.alt == figure.caption
        assert figure.src.startswith("data:image/png;base64,")
    assert parsed.tags.count("script") == 1  # the sorting script, inline
    return parsed


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
    parsed = check_page(page)
    stages = parsed.table("Stages")
    assert stages.column("stage")[:2] == ["web", "document_length"]  # in pipeline order
    assert stages.row("document_length")["docs in"] == "65"
    assert stages.row("document_length")["docs out"] == "60"
    assert stages.row("document_length")["dropped"] == "too_short=5"
    assert stages.row("exact_dedup")["docs out"] == "49"  # every 5th document repeats one
    assert stages.classes[0][stages.header.index("docs in")] == "num"
    assert stages.classes[0][stages.header.index("stage")] == ""
    samples = parsed.table("Rejected documents")
    assert {(r["stage"], r["reason"], r["document start"]) for r in (
        dict(zip(samples.header, row, strict=True)) for row in samples.rows)} == {
        ("document_length", "too_short", "tiny")}
    captions = [f.caption for f in parsed.figures]
    assert captions[:2] == ["Funnel: documents after each stage", "Drops by stage and reason"]
    sources = parsed.table("sink: Documents, tokens and text bytes per source")
    assert sources.row("web")["docs"] == "49" and sources.numeric("tokens")[0] > 0
    assert "sink: Tokens per source" in captions


def test_html_escapes_every_text():
    """Stage, reason, sample, sink and source names go into the page as text, never markup
    (nor out of an attribute: the sink's name starts figure alt texts)."""
    import polars as pl

    from curation.report import DatasetView, RunView, html_report

    evil = "<script>alert('x')</script> & \"<b>q</b>"
    data = DatasetView(evil, {"shards": 1, "docs": 3, "tokens": 30, "text_bytes": 90}, None,
                       pl.DataFrame({"source": [evil], "docs": [3], "tokens": [30],
                                     "text_bytes": [90]}))
    run = RunView(evil, evil, 1.0, [{"name": evil, "docs_in": 5, "docs_out": 3, "bytes_in": 150,
                                     "bytes_out": 90, "counts": {evil: 1},
                                     "seconds": 0.1, "dropped": {evil: 2}}],
                  {evil: {evil: [evil]}}, {evil: data})
    page = html_report(run)
    assert evil not in page and "&lt;script&gt;alert(" in page
    parsed = check_page(page)
    assert parsed.tags.count("b") == 0 and "alert" not in parsed.scripts[0]
    assert parsed.h1 == f"curate inspect: {evil}"
    assert parsed.table("Stages").row(evil)["dropped"] == f"{evil}=2"
    assert parsed.table("Rejected documents").rows == [[evil, evil, evil]]
    assert parsed.table(f"{evil}: Documents").row(evil)["tokens"] == "30"
    assert f"{evil}: Tokens per source" in [f.alt for f in parsed.figures]


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
    page = html.read_text()
    assert len(images(page)) == 2  # tokens per source, heatmap
    parsed = check_page(page)
    table = parsed.table("Tokens per topic x vigintile")
    assert table.header == ["topic", *map(str, range(20))] and table.column("topic") == [
        "art", "health"]
    assert sum(sum(table.numeric(str(v))) for v in range(20)) == view.totals["tokens"]
    assert [f.caption for f in parsed.figures] == ["Tokens per source",
                                                   "Tokens per topic x vigintile"]


def test_plan_view(tmp_path, capsys):
    plan = MixPlan(tuple(PlanEntry("web", "science", v, 1000 + 10 * v, 0.1 * v)
                         for v in range(20)) + (PlanEntry("code", None, None, 5000, 1.0),))
    path = plan.save(str(tmp_path / "mix.json"))
    html = tmp_path / "mix.html"
    assert main(["inspect", path, "--html", str(html)]) == 0
    assert "in the mix" in capsys.readouterr().out
    page = html.read_text()
    assert len(images(page)) == 2  # shares before/after, repetition curve
    entries = check_page(page).table("Plan entries")
    assert len(entries.rows) == 21
    assert entries.row("code") == {"source": "code", "topic": "", "vigintile": "", "tokens":
                                   "5,000", "repetition": "1", "target_tokens": "5,000"}
    assert entries.numeric("repetition")[-1] == pytest.approx(1.9)


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
