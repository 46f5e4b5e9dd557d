"""FineWebQuality: edge cases, reasons counted, tag mode, agreement with datatrove 0.10.1's
FineWebQualityFilter at the same parameters.

Agreement: same line split (``\\n``, blank lines ignored), same terminal punctuation set,
same word tokenizer (spaCy's blank English one), same rule order; decisions and reasons are
identical on the synthetic corpus and the python-docs sample. No disagreement class is known.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pytest
from datatrove.pipeline.filters import FineWebQualityFilter
from filter_agreement import agreement_corpora, datatrove_reasons, run

from curation.filters import FineWebQuality

SENTENCE = "This line is long enough and it ends with a full stop, as prose does."
EDGE = {
    "empty": "",
    "whitespace": "   \n \t\n",
    "prose": "\n".join(f"{SENTENCE} Number {i} of them." for i in range(8)),
    "giant_line": "word " * 50_000 + ".",
    "crlf": "\r\n".join(f"{SENTENCE} Number {i} of them." for i in range(8)),
    "no_punct": "\n".join(f"A heading without any final mark number {i}" for i in range(8)),
    "short_lines": "\n".join(f"Item {i}." for i in range(20)) + "\n" + SENTENCE,
    "dup_lines": "\n".join([SENTENCE] * 4 + [f"{SENTENCE} {i}." for i in range(30)]),
    "list_like": ("\n" * 8).join(f"{SENTENCE} Number {i}." for i in range(5)),
    "cyrillic": "\n".join(f"Это довольно длинная строка текста номер {i}." for i in range(8)),
    "chinese": "\n".join(f"这是一个没有空格但足够长的中文句子，用来测试过滤器的行为，编号为{i}。"
                          for i in range(8)),
    "emoji": "\n".join(f"{SENTENCE} Party number {i} 🎉🎉!" for i in range(8)),
}



def fineweb_reasons(texts: list[str], **params) -> list[str | None]:
    return datatrove_reasons(FineWebQualityFilter(**params), texts)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, list[str]]:
    return agreement_corpora(tmp_path_factory, seed=12)


def reasons(stage, texts):
    return stage.reasons(pa.table({"text": pa.array(texts, pa.large_string())})).to_pylist()


@pytest.mark.parametrize("params", [{}, {"line_punct_exclude_zero": True},
                                    {"stop_chars": (".", "!"), "short_line_length": 10}])
def test_edge_cases_match_datatrove(params):
    texts = list(EDGE.values())
    assert dict(zip(EDGE, reasons(FineWebQuality(**params), texts), strict=True)) == dict(
        zip(EDGE, fineweb_reasons(texts, **params), strict=True))


def test_edge_case_reasons():
    got = dict(zip(EDGE, reasons(FineWebQuality(), list(EDGE.values())), strict=True))
    assert got["empty"] == got["whitespace"] == "empty"
    for name in ("prose", "giant_line", "cyrillic", "emoji"):
        assert got[name] is None, name
    assert got["chinese"] == "list_ratio"  # an unspaced CJK run is one English "word"
    # lines split on "\n" keep their "\r": only the last line ends in "." (1/8 >= 0.12)
    assert got["crlf"] is None
    assert got["no_punct"] == "line_punct_ratio"
    assert got["short_lines"] == "short_line_ratio"
    assert got["dup_lines"] == "char_dup_ratio"
    assert got["list_like"] == "list_ratio"
    assert reasons(FineWebQuality(line_punct_exclude_zero=True), [EDGE["no_punct"]]) == [None]


def test_reasons_counted_and_rejects_kept():
    texts = [EDGE["prose"], EDGE["empty"], EDGE["no_punct"], EDGE["no_punct"], EDGE["dup_lines"]]
    out, ctx = run(FineWebQuality(keep_rejects=True), texts)
    assert out.column("text").to_pylist() == [EDGE["prose"]]
    assert ctx.stats.dropped == {"empty": 1, "line_punct_ratio": 2, "char_dup_ratio": 1}
    rejects = pa.concat_tables(ctx.rejects)
    assert Counter(rejects.column("drop_reason").to_pylist()) == ctx.stats.dropped


def test_tag_mode_leaves_rows_untouched():
    texts = list(EDGE.values())
    out, ctx = run(FineWebQuality(mode="tag"), texts)
    assert out.column("text").to_pylist() == texts
    assert out.column("fine_web_quality_reason").to_pylist()[0] == "empty"
    assert not ctx.stats.dropped


@pytest.mark.parametrize("tokenizer", ["fast", "spacy"])
@pytest.mark.parametrize("corpus", ["synthetic", "python_docs"])
def test_agreement_with_datatrove(corpora, corpus, tokenizer):
    texts = corpora[corpus]
    got = reasons(FineWebQuality(tokenizer=tokenizer), texts)
    want = fineweb_reasons(texts)
    least = 1.0 if tokenizer == "spacy" else 0.995
    assert sum((a is None) == (b is None) for a, b in zip(got, want, strict=True)) \
        / len(texts) >= least
    assert sum(a == b for a, b in zip(got, want, strict=True)) / len(texts) >= least
    assert 0 < sum(r is not None for r in want) < len(texts)  # both kinds occur


@pytest.mark.parametrize("stage", [FineWebQuality])
@pytest.mark.parametrize("texts", [[], [None, ""], ["a b c."] * 3], ids=["none", "null", "tiny"])
def test_degenerate_batches(stage, texts):
    """Zero rows, null texts (read as empty) and texts too short for any n-gram or rule."""
    reasons = stage().reasons(pa.table({"text": pa.array(texts, pa.string())})).to_pylist()
    assert len(reasons) == len(texts) and all(r is not None for r in reasons)
