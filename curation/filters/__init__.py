"""Heuristic quality filters: each a thin ``Filter`` subclass over Arrow batches."""

from curation.filters.c4 import C4Filter
from curation.filters.compressibility import Compressibility
from curation.filters.fineweb import FineWebQuality
from curation.filters.gopher import GopherQuality, GopherRepetition
from curation.filters.langid import LanguageID
from curation.filters.length import LengthFilter
from curation.filters.url import UrlBlockList

__all__ = ["C4Filter", "Compressibility", "FineWebQuality", "GopherQuality", "GopherRepetition",
           "LanguageID", "LengthFilter", "UrlBlockList"]
