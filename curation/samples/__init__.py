"""Sample corpora built from text every Python installation carries."""

from curation.samples.python_docs import build_python_docs_corpus
from curation.samples.realtext import build_real_text_corpus

__all__ = ["build_python_docs_corpus", "build_real_text_corpus"]
