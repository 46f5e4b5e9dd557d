"""Sample corpora built from text the machine carries: Python's own documentation, the installed
packages' documentation, and the translated message catalogs of its Debian packages."""

from curation.samples.multilingual import build_multilingual_corpus
from curation.samples.python_docs import build_python_docs_corpus
from curation.samples.realtext import build_real_text_corpus

__all__ = ["build_multilingual_corpus", "build_python_docs_corpus", "build_real_text_corpus"]
