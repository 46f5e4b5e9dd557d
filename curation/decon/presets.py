"""Named settings of the SIMPLE scan: ``ScanParams.preset(name)`` and ``IndexParams.preset(name)``
(``Decontaminate(preset=name)`` uses both).

``default``: the field defaults of ``ScanParams`` and ``IndexParams``: AI2 decon's own defaults
(``config/default.yaml``: 0.8, 20, 50) with our extensions on and the differences that
``curation/decon/scan.py``'s docstring lists (exact answers below 10 tokens, answer 5-grams).

``olmo3``: AI2 decon's OLMo web configuration (``doc/repro/olmo-web.yaml`` in allenai/decon,
which approximately reproduces its run on OLMo's midtraining web data), decon key -> field:

- ``contamination_score_threshold: 0.88`` -> ``threshold=0.88``
- ``perfect_match_decay_start: 25`` -> ``decay_start=25``
- ``perfect_match_decay_end: 50`` -> ``decay_end=50``
- ``short_answer_token_threshold: 1`` (exact match up to 1 token) -> ``short_answer=2`` (exact
  match below 2)
- ``short_answer_window_length: 20`` -> ``answer_window=20``
- ``min_long_answer_window: 20`` -> ``long_answer_window=20``
- ``answer_ngram_size: 2`` -> ``IndexParams.answer_n=2``
- ``passage_ngram_size: 4`` -> ``IndexParams.passage_n=4``
- ``index_passages: false`` -> ``passages=False``
- no counterpart (our extension) -> ``question_alone=None``
- ``ngram_size: 5``, ``sample_every_m_tokens: 10``, ``question_max_consecutive_misses: 11``:
  our defaults already (``n=5``, ``sample_every=10``, ``max_misses=11``)
- ``eval_min_token_length: 20``, ``eval_min_unique_word_count: 4``: ``build_set``'s defaults
  already (which count words, not tokens)
- ``tokenizer_str: cl100k``: not set; pass ``tokenizer=`` a tokenizer.json
- ``min_passage_distance: 100``, ``passage_max_consecutive_misses: 2``: not modelled (and
  passages are off in this configuration)
"""

from __future__ import annotations

# Per preset, the fields it sets; a field a preset does not name keeps its dataclass default.
SCAN_PRESETS: dict[str, dict] = {
    "default": {},
    "olmo3": {
        "threshold": 0.88,
        "decay_start": 25,
        "decay_end": 50,
        "short_answer": 2,
        "answer_window": 20,
        "long_answer_window": 20,
        "passages": False,
        "question_alone": None,
    },
}
INDEX_PRESETS: dict[str, dict] = {
    "default": {},
    "olmo3": {"answer_n": 2, "passage_n": 4},
}
PRESETS = tuple(SCAN_PRESETS)


def preset_fields(table: dict[str, dict], name: str) -> dict:
    """The fields ``name`` sets in ``table``; an unknown name is an error naming the known ones."""
    if name not in table:
        raise ValueError(f"preset must be one of {tuple(table)}, not {name!r}")
    return dict(table[name])
