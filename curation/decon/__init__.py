"""Benchmark decontamination: eval sets, n-gram indexes, the SIMPLE and 8-gram scans, the
``Decontaminate`` stage and its report."""

from curation.decon.evals import EvalItem, EvalSet, build_set, humaneval, load_eval
from curation.decon.index import DeconIndex, IndexParams, cached_index
from curation.decon.presets import PRESETS
from curation.decon.scan import Match, ScanParams, scan
from curation.decon.stage import Decontaminate
from curation.decon.tokens import Tokens, normalize

__all__ = [
    "DeconIndex",
    "Decontaminate",
    "EvalItem",
    "EvalSet",
    "IndexParams",
    "Match",
    "PRESETS",
    "ScanParams",
    "Tokens",
    "build_set",
    "cached_index",
    "humaneval",
    "load_eval",
    "normalize",
    "scan",
]
