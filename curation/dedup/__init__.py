"""Deduplication stages: exact (content hash) and near-duplicate (MinHash LSH)."""

from curation.dedup.exact import ExactDedup
from curation.dedup.minhash import DOLMA3, FINEWEB, MinHashDedup, collision_probability
from curation.dedup.substring import SubstringDedup

__all__ = ["DOLMA3", "FINEWEB", "ExactDedup", "MinHashDedup", "SubstringDedup",
           "collision_probability"]
