"""Synthetic web corpus with planted ground truth (see ``curation.synthetic.generator``).

Modules: `generator` writes a corpus (and is the ``curate generate`` command line), `corpus`
draws its documents and their truth, `prose`, `spam`, `benchmarks` and `mutate` make the text
of each kind, `similarity` is the shingle Jaccard that near duplicates are planted against,
`sampling` the draws they share and `vocab` the word lists.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "GeneratorConfig": "corpus",
    "generate": "generator",
    "jaccard": "similarity",
    "normalize": "similarity",
    "shingles": "similarity",
}
__all__ = list(_MODULES)


def __getattr__(name: str) -> Any:
    # Imported lazily so that `python -m curation.synthetic.generator` does not find the
    # module already imported by its package (runpy warns about that).
    if name in _MODULES:
        return getattr(importlib.import_module(f"curation.synthetic.{_MODULES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
