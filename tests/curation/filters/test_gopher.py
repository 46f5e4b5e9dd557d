"""GopherQuality / GopherRepetition: edge cases, reasons counted, tag mode, agreement with
datatrove 0.10.1's GopherQualityFilter / GopherRepetitionFilter at the same parameters.

Agreement: both use spaCy's blank English tokenizer for words, the same line and paragraph
splits and the same rule order, so decisions and reasons are identical on the synthetic corpus
and the python-docs sample. The n-gram rules follow datatrove to the letter, duplicated
5..10-grams compared as the words concatenated without separator (("ab", "c") equals ("a",
"bc")); the kernel itself is tested against datatrove's functions in ``test_ngrams.py``.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pytest
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
from filter_agreement import agreement_corpora, datatrove_reasons, run

from curation.filters import GopherQuality, GopherRepetition

PROSE = ("The quick brown fox jumps over the lazy dog and that is what we have to say of it "
         "with some more words. ")
VARIED = (
    "Early on a misty autumn morning, the fishermen of the small harbour town gathered their "
    "nets and prepared to sail. Nobody expected that the weather would change so quickly, yet "
    "within an hour dark clouds had rolled in from the west. The oldest sailor, who had spent "
    "fifty years at sea, warned the younger crews to stay close to the shore. Some listened "
    "to his advice; others, eager to reach the richer waters beyond the cape, ignored him and "
    "pressed on with their journey.")
ITEMS = ["umbrella", "passport", "charger", "notebook", "sweater", "camera", "toothbrush",
         "sandals", "headphones", "sunscreen", "jacket", "wallet"]
EDGE = {
    "empty": "",
    "whitespace": "  \n\t \n  ",
    "prose": PROSE * 8,
    "giant_line": "alpha beta gamma delta " * 5_000,
    "crlf": (PROSE + "\r\n") * 6 + "the end of it\r\n",
    "crlf_dup_lines": "the same line of text to be with\r\n" * 10,
    "cyrillic": "Это простой текст на русском языке и он не содержит английских слов. " * 10,
    "chinese": "这是一个没有空格的中文句子，用于测试分词。" * 30,
    "emoji": ("I love this 😀😀 and the party was fun 🎉 with friends to be there! " * 8),
    "varied": VARIED,
    "bullets_dash": "\n".join(f"- remember to pack the {w} carefully" for w in ITEMS),
    "bullets_dot": "\n".join(f"  • remember to pack the {w} carefully" for w in ITEMS),
    "bullets_star": "\n".join(f"* remember to pack the {w} carefully" for w in ITEMS),
    "hashes": "#news " * 14 + PROSE * 4,
    "ellipsis_lines": "\n".join(f"the story of the brave {w} who rode to the castle with his "
                                f"loyal friends…" for w in ITEMS),
    "dup_paragraphs": ("A paragraph that repeats itself and the other one with it.\n\n" * 5
                       + PROSE * 4),
    "symbols": "+++ === *** %%% ### " * 40 + PROSE,
}





def test_edge_case_reasons():
    quality = dict(zip(EDGE, GopherQuality().reasons(
        pa.table({"text": list(EDGE.values())})).to_pylist(), strict=True))
    for name in ("empty", "whitespace", "symbols", "chinese"):  # CJK runs are one token
        assert quality[name] == "gopher_short_doc", name
    for name in ("prose", "varied", "crlf", "dup_paragraphs", "bullets_star"):
        assert quality[name] is None, name  # "*" is no Gopher bullet
    assert quality["bullets_dash"] == quality["bullets_dot"] == "gopher_too_many_bullets"
    assert quality["hashes"] == "gopher_too_many_hashes"
    assert quality["ellipsis_lines"] == "gopher_too_many_end_ellipsis"
    assert quality["emoji"] == "gopher_below_alpha_threshold"  # emoji are non-alpha words
    assert quality["cyrillic"] == quality["giant_line"] == "gopher_enough_stop_words"
    repetition = dict(zip(EDGE, GopherRepetition().reasons(
        pa.table({"text": list(EDGE.values())})).to_pylist(), strict=True))
    assert repetition["empty"] == "empty"
    assert repetition["varied"] is None
    assert repetition["whitespace"] == "dup_line_frac"  # "  " twice in three lines
    assert repetition["crlf_dup_lines"] == "dup_line_frac"
    assert repetition["dup_paragraphs"] == "dup_para_frac"
    assert repetition["giant_line"] == "top_2_gram"


def test_reasons_counted_and_rejects_kept():
    texts = [EDGE["prose"], EDGE["empty"], EDGE["hashes"], EDGE["bullets_dash"], EDGE["hashes"]]
    out, ctx = run(GopherQuality(keep_rejects=True), texts)
    assert out.column("text").to_pylist() == [EDGE["prose"]]
    assert ctx.stats.dropped == {"gopher_short_doc": 1, "gopher_too_many_hashes": 2,
                                 "gopher_too_many_bullets": 1}
    rejects = pa.concat_tables(ctx.rejects)
    assert Counter(rejects.column("drop_reason").to_pylist()) == ctx.stats.dropped


def test_tag_mode_leaves_rows_untouched():
    texts = list(EDGE.values())
    for stage in (GopherQuality(mode="tag"), GopherRepetition(mode="tag", name="rep")):
        out, ctx = run(stage, texts)
        assert out.column("text").to_pylist() == texts
        assert not ctx.stats.dropped
    assert out.column("rep_reason").to_pylist()[0] == "empty"


def test_thresholds_are_parameters():
    text = EDGE["hashes"]
    assert GopherQuality().reasons(pa.table({"text": [text]})).to_pylist() == [
        "gopher_too_many_hashes"]
    assert GopherQuality(max_symbol_word_ratio=None).reasons(
        pa.table({"text": [text]})).to_pylist() == [None]
    short = "the cat and the dog of that house with me " * 2
    assert GopherQuality(min_doc_words=5).reasons(pa.table({"text": [short]})).to_pylist() == [
        None]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, list[str]]:
    return agreement_corpora(tmp_path_factory, seed=11)


@pytest.mark.parametrize("tokenizer", ["fast", "spacy"])
@pytest.mark.parametrize("corpus", ["synthetic", "python_docs"])
def test_agreement_with_datatrove(corpora, corpus, tokenizer):
    texts = corpora[corpus]
    table = pa.table({"text": pa.array(texts, pa.large_string())})
    # both datatrove filters on one document in turn: its word cache then tokenizes it once
    theirs = (GopherRepetitionFilter(), GopherQualityFilter())
    want: tuple[list, list] = ([], [])
    for text in texts:
        for f, out in zip(theirs, want, strict=True):
            out.extend(datatrove_reasons(f, [text]))
    least = 1.0 if tokenizer == "spacy" else 0.995
    for ours, expected in zip((GopherRepetition(tokenizer=tokenizer),
                               GopherQuality(tokenizer=tokenizer)), want, strict=True):
        got = ours.reasons(table).to_pylist()
        pairs = list(zip(got, expected, strict=True))
        assert sum((a is None) == (b is None) for a, b in pairs) / len(texts) >= least
        assert sum(a == b for a, b in pairs) / len(texts) >= least, type(ours).__name__
        assert 0 < sum(r is not None for r in expected) < len(texts)  # both kinds occur


@pytest.mark.parametrize("stage", [GopherQuality, GopherRepetition])
@pytest.mark.parametrize("texts", [[], [None, ""], ["a b c."] * 3], ids=["none", "null", "tiny"])
def test_degenerate_batches(stage, texts):
    """Zero rows, null texts (read as empty) and texts too short for any n-gram or rule."""
    reasons = stage().reasons(pa.table({"text": pa.array(texts, pa.string())})).to_pylist()
    assert len(reasons) == len(texts) and all(r is not None for r in reasons)


def test_duplicated_ngrams_joined_without_separator():
    """The text's second run of five words splits "riverstonecloudmapleharbor" elsewhere: no
    word n-gram repeats, but datatrove's duplicated 5-grams join the words without separator,
    so it repeats there (26 of 148 characters > 0.15). Repeated word for word, the run fails
    an earlier rule; its pieces in another order repeat nothing."""
    words = ("river stone cloud maple harbor violet summit lantern meadow falcon orchard "
             "copper willow tundra canyon ember glacier prairie thistle beacon").split()
    joined = "".join(words[:5])
    cuts = [0, 3, 8, 13, 18, len(joined)]
    split_elsewhere = [joined[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    texts = [" ".join(words[:5] + words[5:17] + split_elsewhere) + ".",
             " ".join(words[:5] + words[5:17] + words[:5]) + ".",
             " ".join(words[:17] + split_elsewhere[::-1]) + "."]
    ours = GopherRepetition().reasons(pa.table({"text": texts})).to_pylist()
    assert ours == datatrove_reasons(GopherRepetitionFilter(), texts)
    assert ours == ["duplicated_5_n_grams", "top_3_gram", None]


def test_ngram_sizes_are_checked():
    with pytest.raises(ValueError, match="at least 1"):
        GopherRepetition(dup_n_grams=((0, 0.1),))
