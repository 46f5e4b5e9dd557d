"""Deduplication stages: exact (content hash)."""

from curation.dedup.exact import ExactDedup

__all__ = ["ExactDedup"]
