"""Deduplication stages: exact (content hash), by normalised URL, near-duplicate (MinHash LSH)
and repeated substrings (suffix array)."""

from curation.dedup.exact import ExactDedup
from curation.dedup.minhash import DOLMA3, FINEWEB, MinHashDedup, collision_probability
from curation.dedup.substring import SubstringDedup
from curation.dedup.url import UrlDedup

__all__ = ["DOLMA3", "FINEWEB", "ExactDedup", "MinHashDedup", "SubstringDedup", "UrlDedup",
           "collision_probability"]
