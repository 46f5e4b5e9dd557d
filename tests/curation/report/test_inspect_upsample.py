"""``curate inspect`` on a work dir whose pipeline ran ``Upsample``: the fitted curve of each
topic (parameters, target and realised tokens, multiplier per vigintile) in the text view,
checked against ``curation.mixing.curves`` on the persisted parameters, and the same tables
(as HTML tables) and the figure of the multipliers in the HTML page."""

from __future__ import annotations

from itertools import takewhile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpora import write_jsonl
from test_inspect import check_page, images

from curation import Pipeline, read
from curation.cli import main
from curation.mixing.curves import Curve, bucket_edges, fit_curve
from curation.mixing.upsample import Upsample
from curation.report import gather, text_report
from curation.tokenize import Tokenize

RATIO = {"art": 1.5, "health": 0.8}
TAGS = {"topic": pa.string(), "vigintile": pa.int64()}


def tagged(n: int) -> list[dict]:
    """``n`` documents of 5 to 11 words, two topics, lengths varying across vigintiles; health
    has nothing in vigintile 15 (above the cut)."""
    docs = [{"id": f"d{i:05d}", "text": " ".join(["word"] * (5 + i % 7)),
             "topic": ["art", "health"][i % 2], "vigintile": (i // 2) % 20} for i in range(n)]
    return [d for d in docs if (d["topic"], d["vigintile"]) != ("health", 15)]


def upsample_run(root, files: int, stages=()):
    """Run ``source >> *stages >> Upsample(RATIO)`` over ``tagged(1200)`` split in ``files``
    (written on the first call only, so that a second call resumes)."""
    if not (root / "in").exists():
        (root / "in").mkdir(parents=True)
        docs = tagged(1200)
        for k in range(files):
            write_jsonl(root / "in" / f"part-{k}.jsonl", docs[k::files])
    p = Pipeline("upsampled", str(root / "w"))
    node = p.source(read(str(root / "in" / "*.jsonl"), source="web", columns=TAGS))
    for stage in stages:
        node = node >> stage
    p.sink(node >> Upsample(RATIO, partitions=3), str(root / "o"))
    return p.run(progress=False)


@pytest.fixture(scope="module")
def upsampled(tmp_path_factory):
    root = tmp_path_factory.mktemp("upsampled")
    upsample_run(root, files=3)  # both topics in every shard
    return root


def table_after(text: str, heading: str) -> dict[str, dict[str, str]]:
    """The first markdown table after the line containing ``heading``: first cell -> row."""
    lines = text[text.index(heading):].splitlines()
    block = list(takewhile(lambda line: line.startswith("|"),
                           lines[next(i for i, line in enumerate(lines) if line.startswith("|")):]))
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in block]
    return {row[0]: dict(zip(cells[0], row, strict=True)) for row in cells[2:]}


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def persisted(workdir) -> dict[str, tuple[np.ndarray, dict]]:
    """Per topic: tokens per vigintile and the curve parameters, read from the decisions."""
    out = {}
    for path in sorted((workdir / "_global" / "upsample" / "reduce").glob("*.parquet")):
        rows = pq.read_table(path)  # each shard holding a topic gets a copy of its curve
        for topic in sorted(set(rows["topic"].to_pylist()) - set(out)):
            t = rows.filter(pa.compute.equal(rows["topic"], topic)).sort_by("vigintile")
            assert t["vigintile"].to_pylist() == list(range(20))
            params = {c: t[c][0].as_py()
                      for c in ("cut", "p", "lam", "scale", "ratio", "max_repeat")}
            out[topic] = (t["tokens"].to_numpy(), params)
    assert sorted(out) == sorted(RATIO)
    return out


def words_by_topic(docs: list[dict]) -> dict[str, np.ndarray]:
    """Whitespace words (Upsample's tokens when untokenized) per topic x vigintile."""
    out = {topic: np.zeros(20) for topic in RATIO}
    for d in docs:
        out[d["topic"]][d["vigintile"]] += len(d["text"].split())
    return out


def test_text_view_lists_each_topics_fitted_curve(upsampled, capsys):
    assert main(["inspect", str(upsampled / "w")]) == 0
    out = capsys.readouterr().out
    curves = table_after(out, "upsample: fitted upsampling curve per topic")
    rates = table_after(out, "upsample: repetitions per token by quality vigintile")
    assert sorted(curves) == sorted(rates) == sorted(RATIO)
    available = words_by_topic(tagged(1200))
    written = pa.concat_tables(pq.read_table(p) for p in (upsampled / "o").glob("*.parquet"))
    for topic, (tokens, params) in persisted(upsampled / "w").items():
        # the persisted curve is the one fitted to the input's tokens
        np.testing.assert_array_equal(tokens, available[topic])
        fitted = fit_curve(available[topic], RATIO[topic])
        assert params == {c: getattr(fitted, c) for c in params}
        # the text shows the multipliers curves.py computes for the persisted parameters
        reference = Curve(edges=tuple(bucket_edges(tokens)), **params).rates()
        for v in range(20):  # a vigintile without tokens has no multiplier to show
            shown = rates[topic][str(v)]
            if tokens[v] == 0:
                assert shown == "null"
            else:
                assert number(shown) == pytest.approx(reference[v], abs=0.005 + 1e-9)
        assert (tokens == 0).sum() == (topic == "health")
        row = curves[topic]
        for name, value in params.items():  # five significant digits
            assert number(row[name]) == pytest.approx(value, rel=1e-4, abs=1e-300)  # tiny too
        assert number(row["tokens"]) == tokens.sum()
        assert abs(number(row["target"]) - RATIO[topic] * tokens.sum()) <= 1
        mine = written.filter(pa.compute.equal(written["topic"], topic))
        realised = sum(len(t.split()) for t in mine["text"].to_pylist())
        assert number(row["realised"]) == realised
        assert realised == pytest.approx(RATIO[topic] * tokens.sum(), rel=0.05)


def test_html_has_the_multiplier_figure_and_the_tables(upsampled, tmp_path, capsys):
    html = tmp_path / "report.html"
    assert main(["inspect", str(upsampled / "w"), "--html", str(html)]) == 0
    text = capsys.readouterr().out
    page = html.read_text()
    parsed = check_page(page)
    # the tables hold the numbers of the text view's, a null multiplier as a blank cell
    for heading, caption in [
            ("upsample: fitted upsampling curve per topic", "upsample: fitted upsampling curve"),
            ("upsample: repetitions per token by", "upsample: repetitions per token by")]:
        shown, table = table_after(text, heading), parsed.table(caption)
        assert table.column("topic") == sorted(RATIO)
        for topic in RATIO:
            row = table.row(topic)
            assert list(row) == list(shown[topic])
            for name, cell in row.items():
                if name != "topic" and shown[topic][name] == "null":
                    assert cell == ""
                elif name != "topic":
                    assert number(cell) == pytest.approx(number(shown[topic][name]), rel=1e-4)
    assert parsed.table("upsample: fitted").header[1:7] == [
        "cut", "p", "lam", "scale", "ratio", "max_repeat"]
    title = "upsample: upsampling multiplier per vigintile (fitted curves)"
    pictures = images(page)
    titles = [f.caption for f in parsed.figures]
    assert len(titles) == len(pictures) and title in titles
    figure = pictures[titles.index(title)][..., :3]
    for colour in ("#1f77b4", "#ff7f0e"):  # one line per topic, in matplotlib's first colours
        rgb = np.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
        assert (np.abs(figure - rgb).max(axis=2) < 0.05).sum() > 100


def test_curves_are_resumed_and_independent_of_sharding(upsampled, tmp_path):
    before = text_report(gather(str(upsampled / "w"), 0)).split("\n", 1)[1]
    assert upsample_run(upsampled, files=3).ran == 0  # a finished run: nothing to redo
    assert text_report(gather(str(upsampled / "w"), 0)).split("\n", 1)[1] == before
    upsample_run(tmp_path, files=1)
    one, two = (gather(str(root / "w")).upsampling[0] for root in (tmp_path, upsampled))
    assert one.curves().equals(two.curves()) and one.rates().equals(two.rates())


def test_realised_tokens_of_a_tokenized_run_match_the_sink(tmp_path, tokenizer_path, capsys):
    upsample_run(tmp_path, files=1, stages=[Tokenize(tokenizer_path)])
    view = gather(str(tmp_path / "w"))
    (up,) = view.upsampling
    sink = view.sinks["sink"].by("topic")
    assert dict(zip(sink["topic"], sink["tokens"], strict=True)) == up.realised
    curves = up.curves()
    assert curves["target"].to_list() == pytest.approx(
        [RATIO[t] * n for t, n in zip(curves["topic"], curves["tokens"], strict=True)], abs=1)
