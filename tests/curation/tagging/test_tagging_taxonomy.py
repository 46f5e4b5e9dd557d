"""WebOrganizer taxonomies: published labels, stable ids, round trips, fastText labels."""

from __future__ import annotations

import pytest

from curation.synthetic import vocab
from curation.tagging import FORMATS, TOPICS, slugify


def test_topic_ids_are_pinned():
    assert len(TOPICS) == 24 and len(set(TOPICS.ids)) == 24
    assert TOPICS.ids[:3] == ("adult_content", "art_and_design", "software_development")
    assert TOPICS.id_of("Science, Math & Technology") == "science_math_and_technology"
    assert TOPICS.index("travel_and_tourism") == 23
    # the synthetic corpus plants the same 24 ids
    assert set(vocab.TOPICS) == set(TOPICS.ids)


def test_format_labels_as_published():
    assert len(FORMATS) == 24 and len(set(FORMATS.ids)) == 24
    assert FORMATS.labels[0] == "Academic Writing" and FORMATS.labels[-1] == "User Review"
    assert FORMATS.id_of("Q&A Forum") == "q_and_a_forum"
    assert FORMATS.id_of("About (Org.)") == "about_org"
    assert FORMATS.id_of("Spam / Ads") == "spam_ads"


@pytest.mark.parametrize("taxonomy", [TOPICS, FORMATS], ids=["topics", "formats"])
def test_round_trips(taxonomy):
    for i, (label, id_) in enumerate(zip(taxonomy.labels, taxonomy.ids, strict=True)):
        assert slugify(label) == id_
        assert taxonomy.id_of(label) == id_ and taxonomy.label(id_) == label
        assert taxonomy.index(id_) == i
        assert taxonomy.fasttext_label(id_) == f"__label__{id_}"
        assert taxonomy.from_fasttext(taxonomy.fasttext_label(id_)) == id_
        assert taxonomy.id_of(label.replace(" ", "_")) == id_  # fastText-safe spelling


def test_unknown_names_raise():
    with pytest.raises(KeyError, match="not a topic id"):
        TOPICS.index("cooking")
    with pytest.raises(KeyError, match="neither"):
        TOPICS.id_of("Cooking")
    with pytest.raises(KeyError, match="prefix"):
        TOPICS.from_fasttext("games")
