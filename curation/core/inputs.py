"""Inputs a pipeline builds when a run starts: sample data, a tokenizer, a model.

A pipeline file must not do work when it is imported: ``curate plan`` imports it to show the
DAG, and that has to be instant and leave no trace. So an input that does not exist yet (the
demo's generated crawl, a BPE trained on first use) is declared rather than built::

    docs = pipeline.input("python-docs", "runs/samples/python-docs", build=build_corpus)
    pipeline.source(read(docs))

``Pipeline.input`` returns the path, which stages take as usual; stages touch their files
only when a run starts (fingerprints, shipping) or in their tasks. A run calls every
declared input's ``build(path)`` first, in declaration order (an input may read an earlier
one), before any step; ``build`` must be idempotent: return at once when ``path`` is complete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from curation.core import fs


@dataclass(frozen=True)
class Input:
    """``path`` (a file or directory) that ``build(path)`` makes; ``build=None`` only checks
    that it exists."""

    name: str
    path: str
    build: Callable[[str], object] | None = None
    help: str = ""

    def ready(self) -> bool:
        return fs.exists(self.path)

    def describe(self) -> str:
        state = "present" if self.ready() else (
            "built when the run starts" if self.build else "MISSING")
        return f"{self.name}: {self.path}  [{state}]" + (f"  {self.help}" if self.help else "")

    def prepare(self) -> None:
        """Build the input (a no-op when it is complete); a missing one without ``build`` is a
        ``FileNotFoundError`` naming it."""
        if self.build is not None:
            self.build(self.path)
        elif not self.ready():
            raise FileNotFoundError(f"input {self.name!r}: {self.path} does not exist")
