"""WebOrganizer's two taxonomies of web pages: 24 topics and 24 formats.

Labels are the published names, in the published order (Wettig et al., 2025, "Organize the
Web"; the ``WebOrganizer/TopicClassifier`` and ``WebOrganizer/FormatClassifier`` models). Each
label has a stable snake_case id, written out literally below so that it never changes with
the code: lowercase, ``&`` spelled ``and``, every other run of non-alphanumerics one ``_``
(``"Science, Math & Technology"`` -> ``science_math_and_technology``, ``"About (Org.)"`` ->
``about_org``). Ids are what columns (``topic``) and fastText labels (``__label__<id>``) hold.

Invariants (tested): 24 labels and 24 distinct ids per taxonomy; ``slugify(label) == id`` for
every label; ``label(id_of(x)) == x`` and ``id_of(label(i)) == i``; ``index`` follows the
published order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FASTTEXT_PREFIX = "__label__"


def slugify(label: str) -> str:
    """The snake_case id rule: lowercase, ``&`` -> ``and``, other non-alphanumerics -> ``_``."""
    words = re.sub(r"[^a-z0-9]+", " ", label.lower().replace("&", " and ")).split()
    return "_".join(words)


@dataclass(frozen=True)
class Taxonomy:
    """An ordered set of labels with stable ids.

    ``labels[i]`` is the published name of class ``i`` and ``ids[i]`` its id.
    """

    name: str
    labels: tuple[str, ...]
    ids: tuple[str, ...]
    _by_id: dict[str, int] = field(init=False, repr=False, compare=False)
    _by_label: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.ids) or len(set(self.ids)) != len(self.ids):
            raise ValueError(f"taxonomy {self.name!r}: labels and ids must pair up, ids unique")
        object.__setattr__(self, "_by_id", {i: k for k, i in enumerate(self.ids)})
        object.__setattr__(self, "_by_label", {s: k for k, s in enumerate(self.labels)})

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, id_: object) -> bool:
        return id_ in self._by_id

    def index(self, id_: str) -> int:
        """Position of ``id_`` in the published order (0-based)."""
        try:
            return self._by_id[id_]
        except KeyError:
            raise KeyError(f"{id_!r} is not a {self.name} id; ids: {', '.join(self.ids)}") from None

    def label(self, id_: str) -> str:
        """Published name of ``id_`` (``"science_math_and_technology"`` -> ``"Science, Math &
        Technology"``)."""
        return self.labels[self.index(id_)]

    def id_of(self, name: str) -> str:
        """Id of a published name, an id, or a fastText label of either (``__label__Games``)."""
        if name.startswith(FASTTEXT_PREFIX):
            name = name[len(FASTTEXT_PREFIX):]
        if name in self._by_id:
            return name
        if name in self._by_label:
            return self.ids[self._by_label[name]]
        slug = slugify(name.replace("_", " "))
        if slug in self._by_id:
            return slug
        raise KeyError(f"{name!r} is neither a {self.name} label nor an id")

    def fasttext_label(self, id_: str) -> str:
        """``"games"`` -> ``"__label__games"``, the label a fastText training line carries."""
        return FASTTEXT_PREFIX + self.ids[self.index(id_)]

    def from_fasttext(self, label: str) -> str:
        """``"__label__games"`` -> ``"games"``; raises ``KeyError`` for a label outside."""
        if not label.startswith(FASTTEXT_PREFIX):
            raise KeyError(f"{label!r} is not a fastText label (no {FASTTEXT_PREFIX!r} prefix)")
        return self.id_of(label)


TOPICS = Taxonomy(
    "topic",
    labels=(
        "Adult Content",
        "Art & Design",
        "Software Development",
        "Crime & Law",
        "Education & Jobs",
        "Electronics & Hardware",
        "Entertainment",
        "Social Life",
        "Fashion & Beauty",
        "Finance & Business",
        "Food & Dining",
        "Games",
        "Health",
        "History & Geography",
        "Home & Hobbies",
        "Industrial",
        "Literature",
        "Politics",
        "Religion",
        "Science, Math & Technology",
        "Software",
        "Sports & Fitness",
        "Transportation",
        "Travel & Tourism",
    ),
    ids=(
        "adult_content",
        "art_and_design",
        "software_development",
        "crime_and_law",
        "education_and_jobs",
        "electronics_and_hardware",
        "entertainment",
        "social_life",
        "fashion_and_beauty",
        "finance_and_business",
        "food_and_dining",
        "games",
        "health",
        "history_and_geography",
        "home_and_hobbies",
        "industrial",
        "literature",
        "politics",
        "religion",
        "science_math_and_technology",
        "software",
        "sports_and_fitness",
        "transportation",
        "travel_and_tourism",
    ),
)

FORMATS = Taxonomy(
    "format",
    labels=(
        "Academic Writing",
        "Content Listing",
        "Creative Writing",
        "Customer Support",
        "Comment Section",
        "FAQ",
        "Truncated",
        "Knowledge Article",
        "Legal Notices",
        "Listicle",
        "News Article",
        "Nonfiction Writing",
        "About (Org.)",
        "News (Org.)",
        "About (Pers.)",
        "Personal Blog",
        "Product Page",
        "Q&A Forum",
        "Spam / Ads",
        "Structured Data",
        "Documentation",
        "Audio Transcript",
        "Tutorial",
        "User Review",
    ),
    ids=(
        "academic_writing",
        "content_listing",
        "creative_writing",
        "customer_support",
        "comment_section",
        "faq",
        "truncated",
        "knowledge_article",
        "legal_notices",
        "listicle",
        "news_article",
        "nonfiction_writing",
        "about_org",
        "news_org",
        "about_pers",
        "personal_blog",
        "product_page",
        "q_and_a_forum",
        "spam_ads",
        "structured_data",
        "documentation",
        "audio_transcript",
        "tutorial",
        "user_review",
    ),
)
