"""The MiniLM teacher labels clear texts by topic; distillation trains and measures a student."""

from __future__ import annotations

import pytest

from classifiers.topic import DESCRIPTIONS, Teacher, distill, split_paragraphs
from curation.tagging import TOPICS

CLEAR = {
    "health": "The doctor examined the patient at the hospital and prescribed a treatment for "
              "the infection, with rest and plenty of fluids.",
    "sports_and_fitness": "The striker scored twice as the team won the championship final in "
                          "front of a full stadium.",
    "food_and_dining": "Stir the garlic into the butter, add the chopped tomatoes and simmer the "
                       "sauce before pouring it over the pasta.",
    "politics": "The senator announced her campaign for president as voters prepare for the "
                "election and the parliament debates the new bill.",
    "software_development": "def parse(path):\n    with open(path) as f:\n        return "
                            "json.load(f)  # the function returns the decoded object",
    "travel_and_tourism": "We booked a hotel near the beach, flew in on an early flight and "
                          "spent the vacation sightseeing with a local tour guide.",
}


def test_descriptions_cover_the_taxonomy():
    assert set(DESCRIPTIONS) == set(TOPICS.ids)
    assert split_paragraphs("short\n\nalso short") == ["short\n\nalso short"]
    long = " ".join(["word"] * 25)
    assert split_paragraphs(f"{long}\n \n{long}\n\nshort") == [long, long]


@pytest.mark.slow
def test_teacher_and_student():
    teacher = Teacher(max_seq_length=64)
    ids, margins, confident = teacher.label(list(CLEAR.values()))
    assert ids == list(CLEAR)
    assert confident.sum() >= 4 and margins.min() > 0
    texts = [text for text in CLEAR.values() for _ in range(6)]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        report = distill(texts, f"{tmp}/student.bin", teacher=teacher, min_margin=0.0,
                         reference=[t for t in CLEAR for _ in range(6)])
    assert report.documents == 36 and report.confident == 36
    assert report.train + report.heldout == 36 and report.heldout >= 1
    assert report.agreement == 1.0  # repeated texts: the student must reproduce the teacher
    assert report.reference_accuracy["teacher"] == 1.0
    assert report.student_docs_per_s > report.teacher_docs_per_s > 0
