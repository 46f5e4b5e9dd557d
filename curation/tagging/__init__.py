"""Topic tagging, quality scoring and per-topic quality vigintiles (WebOrganizer / DCLM).

``Topic`` and ``Quality`` are map stages running fastText models (trained by ``classifiers/``);
``Vigintiles`` is a global stage bucketing quality within each topic; ``TOPICS`` and
``FORMATS`` are WebOrganizer's taxonomies.
"""

from curation.tagging.stages import Quality, Topic
from curation.tagging.taxonomy import FORMATS, TOPICS, Taxonomy, slugify
from curation.tagging.vigintiles import (
    Vigintiles,
    cut_points,
    vigintile_grid,
    write_grid_report,
)

__all__ = [
    "FORMATS",
    "TOPICS",
    "Quality",
    "Taxonomy",
    "Topic",
    "Vigintiles",
    "cut_points",
    "slugify",
    "vigintile_grid",
    "write_grid_report",
]
