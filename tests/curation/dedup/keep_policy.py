"""The dedup stages' keep policy in plain Python, for the brute-force references of the
tests: which document of a group of duplicates is kept."""

from __future__ import annotations


def rank(doc: dict, keep: str) -> tuple:
    """Sort key putting the kept document first: ``newest`` (ISO ``created`` strings, missing
    ones last), ``oldest`` (missing ones last too), ``smallest_id``; ties to the smallest id."""
    c = doc["created"] or ""
    if keep == "newest":
        return (0 if c else 1, tuple(-ord(ch) for ch in c), doc["id"])
    if keep == "oldest":
        return (0 if c else 1, c, doc["id"])
    return (doc["id"],)


def keepers(groups: dict[object, list[dict]], keep: str) -> set[str]:
    """The ids kept: one per group."""
    return {min(g, key=lambda d: rank(d, keep))["id"] for g in groups.values()}
