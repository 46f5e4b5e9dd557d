"""The SIMPLE scan and 8-gram coverage on hand-made documents, and both against plain-Python
reference computations."""

from __future__ import annotations

import math
import re
from dataclasses import asdict

import numpy as np
import pytest
from decon_texts import ANSWER, ITEM, QUESTION, filler

from curation.decon.evals import EvalItem, build_set
from curation.decon.index import DeconIndex, IndexParams
from curation.decon.scan import ScanParams, required_question, required_score, scan, weights
from curation.decon.tokens import Tokens, normalize


def index_of(items: list[EvalItem], mode: str = "simple", **options) -> DeconIndex:
    return DeconIndex.build(build_set("bench", items, mode, **options), IndexParams())


def find(index: DeconIndex, texts: list[str], **params):
    return scan(index, Tokens(), texts, ScanParams(**params))


def planted(text: str, seed: int = 0) -> tuple[str, int]:
    head = filler(seed, 150) + "\n\n"
    return head + text + "\n\n" + filler(seed + 1, 150), len(head)


def test_verbatim_copy_found_with_its_span():
    other = EvalItem("other", "A baker in the southern town sells loaves of rye bread from a cart "
                     "every morning and counts the coins at noon. How much does she earn?", "Ten.")
    index = index_of([ITEM, other])
    doc, at = planted(QUESTION + " " + ANSWER)
    matches = find(index, [filler(5, 400), doc])
    assert [(m.row, str(index.ids[m.item])) for m in matches] == [(1, "farm")]
    m = matches[0]
    assert m.score == pytest.approx(1.0)
    assert (m.start, m.end) == (at, at + len(QUESTION + " " + ANSWER) - 1)  # up to "standing"


def test_case_punctuation_and_whitespace_changes_are_found():
    index = index_of([ITEM])
    changed = re.sub(r"[.,?]", " ;", (QUESTION + "\n\n" + ANSWER).upper()).replace(" ", "   ")
    assert normalize(changed) == normalize(QUESTION + " " + ANSWER)
    matches = find(index, [planted(changed)[0]])
    assert len(matches) == 1 and matches[0].score == pytest.approx(1.0)


def test_one_reworded_sentence_is_still_found_above_threshold():
    index = index_of([ITEM])
    reworded = QUESTION.replace("During a storm in early summer", "During a gale in early June")
    matches = find(index, [planted(reworded + " " + ANSWER)[0]])
    assert len(matches) == 1
    assert ScanParams().threshold <= matches[0].score < 1.0


def test_common_phrases_alone_are_not_flagged():
    stem = "Which of the following is the best explanation for"
    topics = [filler(100 + k, 14).replace(".", "") for k in range(60)]
    items = [EvalItem(f"mc{k}", f"{stem} {t}?", f"Option {k} is correct because of {t}.")
             for k, t in enumerate(topics)]
    index = index_of(items)
    assert index.q_hot.any()  # the shared stem's n-grams are in all 60 items
    doc = " ".join(f"{filler(k, 30)} {stem} this? {stem} that?" for k in range(10))
    assert find(index, [doc]) == []
    copy = planted(f"{stem} {topics[7]}? Option 7 is correct because of {topics[7]}.")[0]
    assert [str(index.ids[m.item]) for m in find(index, [copy])] == ["mc7"]


def test_short_items_need_exact_coverage():
    question = "Name the river that flows through the old capital of the northern kingdom today."
    item = EvalItem("short", question, "The river is called Vessa in the local tongue.")
    index = index_of([item])
    assert index.q_len[0] <= 20 and required_question(index.q_len[0], ScanParams()) == 1.0
    exact = planted(question + " " + item.answer)[0]
    one_word = planted(question.replace("old", "former") + " " + item.answer)[0]
    assert [m.row for m in find(index, [exact, one_word])] == [0]


def test_multiple_choice_matches_on_the_correct_answer_text():
    question = QUESTION.split(" During")[0] + " How many apple trees are there?"
    record = {"id": "mc", "question": question, "answerKey": "C",
              "choices": ["There are 99 trees.", "There are 100 trees.",
                          "There are 101 apple trees still standing.", "None of them."]}
    from curation.decon.evals import adapt

    item = adapt(record, "mc", 0)
    assert item.answer == ANSWER
    index = index_of([item])
    assert index.q_len[0] < ScanParams().question_alone
    right = planted(question + " Answer: " + record["choices"][2])[0]
    wrong = planted(question + " Answer: " + record["choices"][0])[0]
    assert [m.row for m in find(index, [right, wrong])] == [0]
    # the question alone scores 0.75; the item's cumulative length (question words + distinct
    # answer words) is under decay_end, so 0.75 is not enough until decay_end comes down to it
    length = int(index.q_len[0]) + int(index.a_types[0])
    assert length < ScanParams().decay_end
    assert find(index, [wrong], threshold=0.75) == []
    assert find(index, [wrong], threshold=0.75, decay_end=length)


def test_a_long_question_is_sufficient_alone():
    index = index_of([ITEM])
    assert index.q_len[0] >= ScanParams().question_alone
    matches = find(index, [planted(QUESTION + " The answer is unknown.")[0]])
    assert len(matches) == 1 and matches[0].score == pytest.approx(1.0)
    assert find(index, [planted(QUESTION)[0]], question_alone=1000) == []


def test_ngram8_half_coverage_is_clean():
    words = [f"tok{k}" for k in range(20)]
    item = EvalItem("twenty", " ".join(words[:16]), " ".join(words[16:]))
    index = index_of([item], mode="ngram8")
    assert index.c_len[0] == 20
    half = planted(" ".join(words[:10]))[0]  # 3 shared 8-grams cover 10 of 20 tokens
    more = planted(" ".join(words[:11]))[0]  # 4 cover 11 of 20
    matches = find(index, [half, more])
    assert [m.row for m in matches] == [1]
    assert matches[0].score == pytest.approx(11 / 20)


def _brute_coverage(item: EvalItem, doc: str) -> float:
    tokens = normalize(f"{item.question} {item.answer}").split()
    doc_tokens = normalize(doc).split()
    shared = {tuple(doc_tokens[i : i + 8]) for i in range(len(doc_tokens) - 7)}
    covered = set()
    for i in range(len(tokens) - 7):
        if tuple(tokens[i : i + 8]) in shared:
            covered.update(range(i, i + 8))
    return len(covered) / len(tokens)


def _random_items(rng: np.random.Generator, n: int) -> list[EvalItem]:
    vocab = [f"v{k}" for k in range(40)]
    return [EvalItem(f"r{k}", " ".join(rng.choice(vocab, int(rng.integers(20, 40)))),
                     " ".join(rng.choice(vocab, 5))) for k in range(n)]


def test_ngram8_coverage_matches_brute_force():
    rng = np.random.default_rng(3)
    items = _random_items(rng, 30)
    index = index_of(items, mode="ngram8")
    docs = []
    for d in range(40):
        item = items[d % 30]
        words = normalize(f"{item.question} {item.answer}").split()
        a, b = sorted(rng.integers(0, len(words), 2).tolist())
        docs.append(f"{filler(d, 40)} {' '.join(words[a : b + 1])} {filler(d + 99, 40)}")
    got = {(m.row, str(index.ids[m.item])): m.score for m in find(index, docs, )}
    expected = {}
    for row, doc in enumerate(docs):
        for item in items:
            fraction = _brute_coverage(item, doc)
            if fraction > 0.5:
                expected[row, item.id] = fraction
    assert expected and got.keys() == expected.keys()
    for key, fraction in expected.items():
        assert got[key] == pytest.approx(fraction)


def test_question_overlap_matches_brute_force_idf_overlap():
    rng = np.random.default_rng(4)
    items = [EvalItem(it.id, it.question) for it in _random_items(rng, 25)]
    index = index_of(items)
    n_items = len(items)
    grams = [{tuple(normalize(it.question).split()[i : i + 5])
              for i in range(len(normalize(it.question).split()) - 4)} for it in items]
    df: dict[tuple, int] = {}
    for g in grams:
        for x in g:
            df[x] = df.get(x, 0) + 1
    idf = {x: math.log(1 + n_items / c) for x, c in df.items()}
    everything = dict(sample_every=1, threshold=0.0, decay_start=0, decay_end=1)
    for d in range(20):
        k = d % n_items
        words = normalize(items[k].question).split()
        for at in range(int(rng.integers(0, 6)), len(words), 9):  # an edit every 9 words
            words[at] = f"edit{at}"
        doc = f"{filler(d, 30)} {' '.join(words)} {filler(d + 50, 30)}"
        doc_grams = {tuple(words[i : i + 5]) for i in range(len(words) - 4)}
        expected = {}
        for j, g in enumerate(grams):
            shared = g & doc_grams
            if shared:
                expected[items[j].id] = sum(idf[x] for x in shared) / sum(idf[x] for x in g)
        got = {str(index.ids[m.item]): m.score for m in find(index, [doc], **everything)}
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert got[key] == pytest.approx(value)


SHORT_Q = QUESTION.split(" During")[0] + " How many apple trees are there?"  # < 50 tokens


def test_answer_must_be_near_the_question():
    index = index_of([EvalItem("near", SHORT_Q, ANSWER)])
    near = planted(SHORT_Q + " " + ANSWER)[0]
    far = planted(SHORT_Q + " " + filler(9, 120) + " " + ANSWER)[0]
    assert [m.row for m in find(index, [near, far])] == [0]
    assert [m.row for m in find(index, [near, far], answer_window=200)] == [0, 1]


def test_long_answer_scores_its_ngram_overlap():
    answer = ("First multiply twelve by nine to get one hundred and eight trees then subtract "
              "the seven broken trees to get one hundred and one trees in total")
    index = index_of([EvalItem("long", SHORT_Q, answer)])
    words = answer.split()
    half = " ".join(words[: len(words) // 2] + [f"other{k}" for k in range(len(words) // 2)])
    full, partial = find(index, [planted(f"{SHORT_Q} {answer}")[0],
                                 planted(f"{SHORT_Q} {half}")[0]], threshold=0.0)
    assert full.score == pytest.approx(1.0)
    assert 0.75 < partial.score < 0.95  # 0.75 from the question, part of 0.25 from the answer


def test_passage_weights():
    passage = filler(77, 60).replace("zq", "pp")
    item = EvalItem("qap", SHORT_Q, ANSWER, passage)
    index = index_of([item, EvalItem("qp", SHORT_Q.replace("farmer", "grower"), "", passage)])
    scores = {str(index.ids[m.item]): m.score for m in find(
        index, [planted(f"{passage}\n\n{SHORT_Q} {ANSWER}")[0]], threshold=0.0)}
    assert scores["qap"] == pytest.approx(1.0)
    scores = {str(index.ids[m.item]): m.score for m in find(
        index, [planted(f"{SHORT_Q} {ANSWER}")[0]], threshold=0.0)}
    assert scores["qap"] == pytest.approx(0.7 + 0.2)  # no passage nearby
    grower = SHORT_Q.replace("farmer", "grower")
    scores = {str(index.ids[m.item]): m.score for m in find(
        index, [planted(f"{grower}")[0]], threshold=0.0)}
    assert scores["qp"] == pytest.approx(0.85)


def test_tokenizer_ids_find_the_copy(tokenizer_path):
    evalset = build_set("bench", [ITEM])
    index = DeconIndex.build(evalset, IndexParams(tokenizer=tokenizer_path))
    doc, at = planted(QUESTION.upper() + " " + ANSWER)
    matches = scan(index, Tokens(tokenizer_path), [filler(3, 100), doc], ScanParams())
    assert [m.row for m in matches] == [1]
    assert matches[0].start == at and doc[matches[0].end - 1] == "g"  # ...still standing


def test_weights_move_from_short_questions_to_the_answer():
    p = ScanParams()
    assert weights(True, False, 40, p) == (0.75, 0.25, 0.0)
    assert weights(False, False, 3, p) == (1.0, 0.0, 0.0)  # nowhere to move it
    wq, wa, wp = weights(True, False, 10, p)  # confidence 0.75
    assert (wq, wa, wp) == pytest.approx((0.5625, 0.4375, 0.0))
    wq, wa, wp = weights(False, True, 0, p)  # confidence 0.5
    assert (wq, wa, wp) == pytest.approx((0.425, 0.0, 0.575))
    for args in ((True, True, 5), (True, False, 19), (False, True, 12)):
        assert sum(weights(*args, p)) == pytest.approx(1.0)


@pytest.mark.parametrize("mode", ["simple", "ngram8"])
def test_item_with_combining_marks_is_found(mode):
    """Devanagari vowel signs and decomposed accents are combining marks: the per-document scan
    must split words as the index (and the batch prefilter) do, else nothing matches."""
    question = ("एक किसान नदी के किनारे हर साल बारह पेड़ लगाता है और इस साल उसने नौ कतारें "
                "लगाईं। तूफ़ान में सात पेड़ टूट गए और उसने आधे पेड़ बदल दिए। अब कितने पेड़ "
                "बचे हैं? cafe\u0301 nai\u0308ve re\u0301sume\u0301")
    item = EvalItem("hindi", question, "एक सौ एक पेड़ बचे हैं।")
    index = index_of([item], mode)
    doc, at = planted(question + " " + item.answer)
    matches = find(index, [doc])
    assert [(m.row, str(index.ids[m.item])) for m in matches] == [(0, "hindi")]
    assert matches[0].score == pytest.approx(1.0)
    assert matches[0].start == at


def test_passage_window_is_symmetric():
    """A passage n-gram whose tokens all lie within ``passage_window`` tokens of the question
    counts on either side: the window is as wide after the question as before it."""
    passage = "pp1 pp2 pp3 pp4 pp5"  # one n-gram
    index = index_of([EvalItem("qp", SHORT_Q, "", passage)])
    window, gap = 8, "gg1 gg2 gg3"  # the passage's farthest token exactly 8 tokens away
    params = dict(threshold=0.0, passage_window=window, question_alone=10_000)
    before = find(index, [planted(f"{passage} {gap} {SHORT_Q}")[0]], **params)
    after = find(index, [planted(f"{SHORT_Q} {gap} {passage}")[0]], **params)
    beyond = find(index, [planted(f"{SHORT_Q} {gap} gg4 {passage}")[0]], **params)
    assert before[0].score == pytest.approx(1.0)  # 0.85 from the question, 0.15 the passage
    assert after[0].score == pytest.approx(1.0)
    assert beyond[0].score == pytest.approx(0.85)


def test_qap_weights_follow_decon():
    """QAP: a question of few n-grams gives half its lost weight to the answer and half to the
    passage; an answer of fewer than 4 distinct tokens then gives part of its to the passage."""
    p = ScanParams()
    assert weights(True, True, 40, p, 7) == (0.7, 0.2, 0.1)
    # question confidence 0.75: 0.175 moves, half each; answer confidence 0.75 (2 tokens)
    assert weights(True, True, 10, p, 2) == pytest.approx((0.525, 0.215625, 0.259375))
    assert weights(True, True, 40, p, 1) == pytest.approx((0.7, 0.125, 0.175))


def _decon_flags(score: float, length: int, threshold: float, start: int, end: int) -> bool:
    """AI2 decon's final decision, written out from its description: the score is rescaled by
    threshold / required when the length asks for more than the threshold (a perfect score
    stays 1), then compared with the threshold."""
    if length <= start:
        required = 1.0
    elif length >= end:
        required = threshold
    else:
        required = 1.0 - (1.0 - threshold) * (length - start) / (end - start)
    if required > threshold:
        k = threshold / required
        score = score * k + (1.0 - k) * (score == 1.0)
    return score >= threshold


@pytest.mark.parametrize("preset", ["default", "olmo3"])
def test_length_rule_decides_as_decon(preset):
    p = ScanParams.preset(preset)
    rng = np.random.default_rng(7)
    for length in range(0, 90):
        for score in [0.0, 1.0, *rng.uniform(0.7, 1.0, 40).tolist()]:
            ours = score >= required_score(length, p)
            assert ours == _decon_flags(score, length, p.threshold, p.decay_start, p.decay_end)
    assert required_score([20, 35, 50, 80], ScanParams()).tolist() == pytest.approx(
        [1.0, 0.9, 0.8, 0.8])
    assert required_score([25, 37.5, 50], ScanParams.preset("olmo3")).tolist() == pytest.approx(
        [1.0, 0.94, 0.88])
    # the candidate test on the question alone relaxes towards (threshold - 0.3) / 0.7
    assert required_question(50, ScanParams()) == pytest.approx(0.5 / 0.7)
    assert required_question(50, ScanParams.preset("olmo3")) == pytest.approx(0.58 / 0.7)


def test_short_question_with_one_word_changed_beside_its_answer_is_found():
    """Issue #20: a 40-word question with one word changed and its answer beside it. The old
    rule asked the question alone for ``1 - 0.2 (40 - 20) / 30 = 0.867`` of its n-grams and
    missed it; decon's rule asks the question for 0.810 and the score for the cumulative length
    (40 question words + 7 distinct answer words): 0.82."""
    question = QUESTION.split(" During")[0] + " How many apple trees are in the orchard now?"
    index = index_of([EvalItem("q40", question, ANSWER)])
    assert (int(index.q_len[0]), int(index.a_types[0]), int(index.q_unique[0])) == (40, 7, 36)
    edited = question.replace("exactly", "precisely")  # word 21: 5 of its 36 n-grams lost
    matches = find(index, [planted(f"{edited} {ANSWER}")[0]])
    assert [str(index.ids[m.item]) for m in matches] == ["q40"]
    o_q = 31 / 36  # one item: every n-gram has the same IDF
    assert o_q < 1 - 0.2 * 20 / 30  # what the old rule required of the question
    assert o_q >= required_question(40, ScanParams())
    assert matches[0].score == pytest.approx(0.75 * o_q + 0.25)
    assert matches[0].score >= required_score(47, ScanParams())
    # without its answer beside it the question's 0.646 is not enough
    assert find(index, [planted(edited)[0]]) == []
    # at olmo3's 0.88 from 50 tokens (perfect up to 25), 47 tokens need 0.892
    assert find(index, [planted(f"{edited} {ANSWER}")[0]], **olmo3()) == []


def olmo3(**fields) -> dict:
    return asdict(ScanParams.preset("olmo3", **fields))


def test_lengths_are_counted_in_the_tokenizers_tokens(tokenizer_path):
    """The same edited copy of a 37-word question under olmo3: counted in words the question
    needs 0.918 of its n-grams and its one changed word costs more; counted in the tokenizer's
    tokens (several per word) it is long enough for the floor, 0.829."""
    item = EvalItem("short", SHORT_Q, ANSWER)
    words = DeconIndex.build(build_set("bench", [item]), IndexParams.preset("olmo3"))
    tokens = DeconIndex.build(build_set("bench", [item]),
                              IndexParams.preset("olmo3", tokenizer=tokenizer_path))
    assert int(words.q_len[0]) == 37 and int(tokens.q_len[0]) > 50
    assert required_question(37, ScanParams.preset("olmo3")) == pytest.approx(
        1 - (1 - 0.58 / 0.7) * 12 / 25)
    doc = planted(SHORT_Q.replace("exactly", "precisely") + " " + ANSWER)[0]
    assert find(words, [doc], **olmo3()) == []
    found = scan(tokens, Tokens(tokenizer_path), [doc], ScanParams.preset("olmo3"))
    assert [m.item for m in found] == [0]


def test_tokenizer_first_word_and_short_answer_match_mid_document(tokenizer_path):
    """Texts are encoded with a space in front: an item's first word gets the token it has in
    the middle of a document, so a short answer matches exactly and the span starts at the
    question's first character."""
    tokens = Tokens(tokenizer_path)
    mid = tokens.text("the quick brown fox").tolist()
    assert tokens.text("quick brown fox").tolist() == mid[1:]
    evalset = build_set("bench", [EvalItem("short", SHORT_Q, ANSWER)])
    index = DeconIndex.build(evalset, IndexParams(tokenizer=tokenizer_path))
    doc, at = planted(SHORT_Q + " " + ANSWER)
    matches = scan(index, tokens, [doc], ScanParams(question_alone=None))
    assert len(matches) == 1 and matches[0].score == pytest.approx(1.0)  # the answer counted
    assert matches[0].start == at and doc[matches[0].end - 1] == "g"


def test_presets():
    p = ScanParams.preset("olmo3")
    assert (p.threshold, p.decay_start, p.decay_end) == (0.88, 25, 50)
    assert (p.short_answer, p.answer_window, p.long_answer_window) == (2, 20, 20)
    assert p.passages is False and p.question_alone is None
    assert (p.sample_every, p.max_misses, IndexParams.preset("olmo3").n) == (10, 11, 5)
    assert ScanParams.preset("default") == ScanParams()
    assert ScanParams.preset("olmo3", threshold=0.9).threshold == 0.9
    assert IndexParams.preset("olmo3").sizes() == {"q": 5, "a": 2, "p": 4}
    assert IndexParams.preset("default") == IndexParams()
    with pytest.raises(ValueError, match="preset must be one of"):
        ScanParams.preset("olmo2")
    with pytest.raises(ValueError, match="decay_end"):
        ScanParams(decay_start=30, decay_end=20)


def test_olmo3_leaves_passages_out_and_scores_answers_by_bigrams():
    passage = filler(77, 60).replace("zq", "pp")
    answer = "one hundred and one apple trees"
    item = EvalItem("qap", SHORT_Q, answer, passage)
    default_index = index_of([item])
    evalset = build_set("bench", [item])
    olmo_index = DeconIndex.build(evalset, IndexParams.preset("olmo3"))
    assert olmo_index.answer_n == 2 and olmo_index.passage_n == 4
    bare = planted(f"{SHORT_Q} {answer}")[0]  # no passage nearby
    # default: QAP, the passage's 0.1 is missing; olmo3: QA, nothing is missing
    assert find(default_index, [bare], threshold=0.0)[0].score == pytest.approx(0.9)
    assert find(olmo_index, [bare], **olmo3())[0].score == pytest.approx(1.0)
    # a reworded answer: bigram overlap gives olmo3 partial credit; default's exact match none
    reworded = planted(f"{SHORT_Q} one hundred and one trees")[0]
    assert find(default_index, [reworded], threshold=0.0)[0].score == pytest.approx(0.7)
    partial = find(olmo_index, [reworded], **olmo3(threshold=0.0))[0].score
    assert 0.75 < partial < 1.0
