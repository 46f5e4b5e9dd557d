"""Synthetic web corpus with planted ground truth (see ``curation.synthetic.generator``)."""

from __future__ import annotations

from typing import Any

__all__ = ["GeneratorConfig", "generate", "jaccard", "normalize", "shingles"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that `python -m curation.synthetic.generator` does not find the
    # module already imported by its package (runpy warns about that).
    if name in __all__:
        from curation.synthetic import generator

        return getattr(generator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
