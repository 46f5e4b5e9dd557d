"""Heuristic quality filters: each a thin ``Filter`` subclass over Arrow batches."""

from curation.filters.length import LengthFilter

__all__ = ["LengthFilter"]
